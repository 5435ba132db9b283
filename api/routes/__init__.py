"""The API's routers. Thin: they translate HTTP to service calls and back."""
