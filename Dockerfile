# The bot's image: the engine, the channels and the store, on Python 3.11. Every dependency,
# matrix-nio's end-to-end encryption (vodozemac) included, installs from wheels or pure
# Python: no compiler in the image.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
# The yearly report's charts: matplotlib keeps its font cache on the container's only
# writable place, the /tmp tmpfs (the root file system is read-only).
ENV MPLCONFIGDIR=/tmp/matplotlib MPLBACKEND=Agg
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY flows ./flows
# Only the client side of nlu/: the Rasa project and its models run in their own image.
COPY nlu/__init__.py nlu/client.py nlu/service.py ./nlu/
COPY storage ./storage
RUN pip install --no-cache-dir . && groupadd --system --gid 10001 entraide \
    && useradd --system --uid 10001 --gid 10001 --home /app entraide \
    && install -d -m 0700 -o entraide /data /secrets
USER entraide
ENTRYPOINT ["python", "-m", "bot"]
CMD ["chat"]
