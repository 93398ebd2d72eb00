"""The local OpenAI-compatible server: the same engine as Chat, behind HTTP, safe by default.

``server.py`` binds and runs it (loopback only unless asked), ``security.py`` holds the checks
every request passes (Host header, bearer token), ``token.py`` the token file, ``runner.py`` the
engine process and its bounded queue, ``catalog.py`` the model names, ``openai_api.py`` the
request and response shapes, ``app.py`` the routes and ``request_log.py`` the log of requests.
"""
