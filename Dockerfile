# The bot's image: the engine, the channels and the store, on Python 3.11.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY flows ./flows
COPY nlu ./nlu
COPY storage ./storage
RUN pip install --no-cache-dir . && useradd --system --home /app entraide \
    && install -d -m 0700 -o entraide /data /secrets
USER entraide
ENTRYPOINT ["python", "-m", "bot"]
CMD ["chat"]
