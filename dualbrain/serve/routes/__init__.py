"""The server's routes by area: OpenAI-compatible answering, knowledge bases, benchmark reports."""
