"""OpenSearch clients for the CLI, the Lambda handler and the Spark jobs.

``make_client`` builds a client for the cluster at ``OPENSEARCH_URL`` (see
``okeanos.settings.opensearch_url``):

- Amazon OpenSearch Service (a host ending in ``.es.amazonaws.com``, or
  ``OKEANOS_OPENSEARCH_AUTH=sigv4`` for a custom endpoint): requests are
  signed with SigV4, using credentials from boto3's default chain;
- any URL with ``user:password@``: HTTP basic auth, which also covers a
  domain's fine-grained access control master user;
- otherwise no authentication, as for the local node.

``OKEANOS_OPENSEARCH_VERIFY_CERTS=false`` turns off TLS certificate
verification, for a local container with a self-signed certificate only.
"""

from __future__ import annotations

import logging
import os
import re
import time
from typing import TYPE_CHECKING, Any, Dict, Optional
from urllib.parse import unquote, urlsplit

from opensearchpy import OpenSearch, RequestsAWSV4SignerAuth, RequestsHttpConnection
from opensearchpy.exceptions import AuthenticationException, AuthorizationException, TransportError
from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError

from okeanos import settings
from okeanos.exceptions import ConfigurationError, OpenSearchUnavailableError

if TYPE_CHECKING:
    import boto3

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 30
DEFAULT_WAIT_SECONDS = 60.0

# SigV4 service names by endpoint suffix: managed domains and Serverless collections.
_AWS_ENDPOINT_SERVICES = {".es.amazonaws.com": "es", ".aoss.amazonaws.com": "aoss"}
_AUTH_MODES = ("auto", "sigv4")
_REGION_PATTERN = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_TRUE_VALUES = ("1", "true", "yes", "on")
_FALSE_VALUES = ("0", "false", "no", "off")


def make_client(
    url: str | None = None,
    *,
    timeout: int = DEFAULT_TIMEOUT_SECONDS,
    region: str | None = None,
    session: boto3.Session | None = None,
) -> OpenSearch:
    """Build an OpenSearch client for ``url``, signing requests to Amazon OpenSearch Service.

    Parameters
    ----------
    url
        Cluster URL, ``http`` or ``https``, optionally with ``user:password@``
        and a path prefix; default ``okeanos.settings.opensearch_url()``.
    timeout
        Request timeout in seconds.
    region
        AWS Region for SigV4; default taken from the endpoint's host name,
        else ``AWS_REGION``, else the boto3 session's Region.
    session
        boto3 session whose credentials sign requests; default a new session
        with boto3's default credential chain. Only used for SigV4.

    Returns
    -------
    OpenSearch
        A client; no request has been sent yet.

    Raises
    ------
    ConfigurationError
        When the URL or an ``OKEANOS_OPENSEARCH_*`` variable is invalid, or
        SigV4 is needed and no Region or no credentials are found.
    """
    resolved = settings.opensearch_url(url)
    parts = urlsplit(resolved)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"invalid OpenSearch URL {_redact(resolved)!r}; use http://HOST:PORT or https://HOST"
        )
    try:
        port = parts.port or (443 if parts.scheme == "https" else 9200)
    except ValueError as exc:
        raise ConfigurationError(f"invalid port in OpenSearch URL {_redact(resolved)!r}") from exc

    host: Dict[str, Any] = {
        "host": parts.hostname,
        "port": port,
        "scheme": parts.scheme,
        "use_ssl": parts.scheme == "https",
    }
    if parts.path and parts.path != "/":
        host["url_prefix"] = parts.path.rstrip("/")

    verify_certs = _verify_certs()
    options: Dict[str, Any] = {
        "hosts": [host],
        "timeout": timeout,
        "verify_certs": verify_certs,
        "ssl_show_warn": verify_certs,
    }

    if _uses_sigv4(parts.hostname, has_user_info=parts.username is not None):
        if not verify_certs:
            raise ConfigurationError(
                "OKEANOS_OPENSEARCH_VERIFY_CERTS=false is only for a local container; "
                f"unset it for the Amazon OpenSearch Service endpoint {parts.hostname}"
            )
        options["http_auth"] = _sigv4_auth(parts.hostname, region, session)
        options["connection_class"] = RequestsHttpConnection
    elif parts.username is not None:
        options["http_auth"] = (unquote(parts.username), unquote(parts.password or ""))

    logger.debug("OpenSearch client for %s", _redact(resolved))
    return OpenSearch(**options)


def client_url(client: OpenSearch) -> str:
    """Return the URL of a client's first host, without credentials."""
    host = client.transport.hosts[0]
    scheme = host.get("scheme") or ("https" if host.get("use_ssl") else "http")
    return f"{scheme}://{host['host']}:{host.get('port', 9200)}{host.get('url_prefix', '')}"


def wait_for_cluster(client: OpenSearch, timeout_seconds: float = DEFAULT_WAIT_SECONDS) -> str:
    """Wait until the cluster responds and its health is yellow or green.

    Returns
    -------
    str
        The cluster health status, ``yellow`` or ``green``.

    Raises
    ------
    OpenSearchUnavailableError
        When the cluster rejects the credentials, or is still unreachable or
        red after ``timeout_seconds``. The message names the URL.
    """
    url = client_url(client)
    deadline = time.monotonic() + timeout_seconds
    problem = "no answer"
    while True:
        remaining = deadline - time.monotonic()
        try:
            health = client.cluster.health(request_timeout=max(1.0, min(10.0, remaining)))
            status = health.get("status")
            if status in ("yellow", "green"):
                return status
            problem = f"cluster health is {status}"
        except (AuthenticationException, AuthorizationException) as exc:
            raise OpenSearchUnavailableError(
                f"OpenSearch at {url} rejected the request with HTTP {exc.status_code}; check the "
                "credentials in OPENSEARCH_URL or, for SigV4, the AWS identity and the domain's "
                "access policy"
            ) from exc
        except (OpenSearchConnectionError, TransportError) as exc:
            problem = str(exc)

        if time.monotonic() >= deadline:
            raise OpenSearchUnavailableError(
                f"OpenSearch at {url} is not available after {timeout_seconds:g} s ({problem}); "
                "start the local node with `okeanos local opensearch start` or set OPENSEARCH_URL "
                "to a running cluster"
            )
        time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))


def _uses_sigv4(hostname: str, *, has_user_info: bool) -> bool:
    mode = os.environ.get("OKEANOS_OPENSEARCH_AUTH", "auto").strip().lower() or "auto"
    if mode not in _AUTH_MODES:
        raise ConfigurationError(
            f"invalid OKEANOS_OPENSEARCH_AUTH {mode!r}; use one of {', '.join(_AUTH_MODES)}"
        )
    if mode == "sigv4":
        if has_user_info:
            raise ConfigurationError(
                "OKEANOS_OPENSEARCH_AUTH=sigv4 signs requests with AWS credentials, so "
                "OPENSEARCH_URL must not contain user:password"
            )
        return True
    # A user:password in the URL is a domain's fine-grained access control master user.
    return _aws_service(hostname) is not None and not has_user_info


def _aws_service(hostname: str) -> Optional[str]:
    for suffix, service in _AWS_ENDPOINT_SERVICES.items():
        if hostname.lower().endswith(suffix):
            return service
    return None


def _sigv4_auth(
    hostname: str, region: Optional[str], session: Optional[boto3.Session]
) -> RequestsAWSV4SignerAuth:
    import boto3  # Lazy: the local mode and the Spark executors of a local run do not need it.

    if session is None:
        session = boto3.Session()
    resolved_region = (
        region or _region_of(hostname) or os.environ.get("AWS_REGION") or session.region_name
    )
    if not resolved_region:
        raise ConfigurationError(
            f"no AWS Region for SigV4 signing of requests to {hostname}; set AWS_REGION"
        )
    credentials = session.get_credentials()
    if credentials is None:
        raise ConfigurationError(
            f"no AWS credentials found for SigV4 signing of requests to {hostname}; configure "
            "boto3's default credential chain (AWS_PROFILE, AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or an instance, task or function role)"
        )
    # A custom endpoint (OKEANOS_OPENSEARCH_AUTH=sigv4) fronts a managed domain: service "es".
    service = _aws_service(hostname) or "es"
    return RequestsAWSV4SignerAuth(credentials, resolved_region, service)


def _region_of(hostname: str) -> Optional[str]:
    # search-NAME-ID.us-east-1.es.amazonaws.com, ID.us-east-1.aoss.amazonaws.com
    labels = hostname.lower().split(".")
    if len(labels) >= 5 and _REGION_PATTERN.match(labels[-4]):
        return labels[-4]
    return None


def _verify_certs() -> bool:
    value = os.environ.get("OKEANOS_OPENSEARCH_VERIFY_CERTS", "true").strip().lower()
    if value in _TRUE_VALUES:
        return True
    if value in _FALSE_VALUES:
        return False
    raise ConfigurationError(
        f"invalid OKEANOS_OPENSEARCH_VERIFY_CERTS {value!r}; use true or false"
    )


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()
