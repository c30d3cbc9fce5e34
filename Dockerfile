# The owl command (bridge, exporter and the rest) for docker-compose.yml; runs as the non-root
# user owl (uid 10001). The build context is only the package sources (.dockerignore).
FROM python:3.11.13-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

RUN groupadd --gid 10001 owl \
    && useradd --uid 10001 --gid owl --home-dir /var/lib/owl --no-create-home \
        --shell /usr/sbin/nologin owl \
    && install -d -o owl -g owl -m 0750 /var/lib/owl

# WeasyPrint (the monthly reports) needs Pango and a font from Debian.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

# The sources are bind-mounted for the install only: no copy of them stays in the image. The
# runtime set comes from the lock with its hashes checked; the package itself brings no other.
RUN --mount=type=bind,target=/src,rw \
    pip install --no-cache-dir --require-hashes -r /src/requirements.lock \
    && pip install --no-cache-dir --no-deps /src

USER owl
WORKDIR /var/lib/owl
EXPOSE 9180 9181
ENTRYPOINT ["owl"]
CMD ["--help"]
