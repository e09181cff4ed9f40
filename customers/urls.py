from __future__ import annotations

from django.urls import path

from customers import views

app_name = "customers"

urlpatterns = [
    path("", views.customer_list, name="list"),
    path("add/", views.customer_add, name="add"),
    path("<int:customer_id>/", views.customer_edit, name="edit"),
    path("<int:customer_id>/delete/", views.customer_delete_confirm, name="delete"),
]
