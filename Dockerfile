# replayflow in a container: the `replayflow` command is the entrypoint.
#   script/docker-build                      # builds replayflow:latest
#   script/docker-run workflow.start --local examples.basic.BasicWorkflow --input '[1, 0]'
# For a cluster (deploy/), build your own image on top of this one with your workflows and
# activities in /app (on PYTHONPATH):
#   FROM replayflow:latest
#   COPY my_project /app/my_project
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONPATH=/app

WORKDIR /app
COPY pyproject.toml README.md ./
COPY replayflow ./replayflow
COPY examples ./examples
RUN pip install .

# An unprivileged user with a fixed numeric id, so Kubernetes can check runAsNonRoot (deploy/
# sets runAsUser to the same id); the jumbo-field cache lives in its home directory.
RUN useradd --uid 10001 --create-home replayflow
USER 10001

ENTRYPOINT ["replayflow"]
CMD ["--help"]
