"""Letters have no model of their own: a letter is a mass-mail job's templates.

Customer moved to the customers app (shared with invoices); it is named here too so that
code written against `letters.models.Customer` keeps working.
"""

from __future__ import annotations

from customers.models import Customer

__all__ = ["Customer"]
