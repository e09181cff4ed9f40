# The image of docker-compose.yml's web, worker and beat services.
FROM python:3.13-slim

# Production unless told otherwise: a container started without DJANGO_ENV must not run with
# DEBUG on and the development secret key (docker-compose.yml passes its own value).
ENV DJANGO_ENV=production

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_STATIC_ROOT=/app/staticfiles

WORKDIR /app

# A Unicode font for the invoice PDFs (invoices/pdf.py): without it they fall back to Helvetica,
# which drops letters such as ā č ę ł ņ š.
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

# The dependencies first, from the runtime lock alone (exact versions and hashes; make lock
# writes it): this layer is rebuilt only when the lock changes.
COPY requirements/runtime.txt /tmp/requirements.txt
RUN pip install --require-hashes -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY . .
RUN pip install --no-deps . \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin app \
    && mkdir -p /app/var /app/staticfiles \
    && chown app /app/var /app/staticfiles

USER app
EXPOSE 8000
CMD ["gunicorn", "directo_mail.wsgi:application", "--bind", "0.0.0.0:8000", "--access-logfile", "-"]
