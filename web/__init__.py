"""The web layer: REST, the instructor page, Chainlit adapters and chat presentation. The only package (with app.py)
that imports chainlit, fastapi, starlette, sse_starlette or jinja2."""
