# The test suite's ENF client: an endpoint with the programs people use against the services.
FROM enf/base
RUN apt-get update \
 && apt-get install -y --no-install-recommends dnsutils openssh-client netcat-openbsd iputils-ping curl ca-certificates \
 && rm -rf /var/lib/apt/lists/*
