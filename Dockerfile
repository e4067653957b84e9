# replayflow in a container: the `replayflow` command is the entrypoint.
#   script/docker-build                      # builds replayflow:latest
#   script/docker-run workflow.start --local examples.basic.BasicWorkflow --input '[1, 0]'
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY replayflow ./replayflow
COPY examples ./examples
RUN pip install .

# Run as an unprivileged user; the jumbo-field cache lives in its home directory.
RUN useradd --create-home replayflow
USER replayflow

ENTRYPOINT ["replayflow"]
CMD ["--help"]
