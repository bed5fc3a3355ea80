"""The worker over HTTP (`atri worker`): its routes for bots (`app.py`), who may call
them (`auth.py`), and the OpenAI chat-completions protocol (`openai_api.py`), which only
translates the wire format into calls of the same service method a bot chat uses."""
