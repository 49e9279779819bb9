"""Submit an image by link (shared/link_fetch.py, POST /api/v1/analyses with `url`), on SQLite and PostgreSQL,
against an HTTP server on 127.0.0.1 started here (tests/receivers.py ImageServer): the happy path to a verdict with a
real worker, redirects followed and recorded, and each refusal with its status and message."""
from __future__ import annotations

import io
import time

import pytest

from shared import link_fetch, reverse_search
from shared.settings import Settings
from tests.conftest import camera_like_jpeg, make_jpeg
from tests.live import Worker, app_for, emptied, isolated, wait_final
from tests.receivers import ImageServer

PRIVATE = {"link_allow_private": True}  # the test's server is on 127.0.0.1


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    photo = camera_like_jpeg(tmp_path_factory.mktemp("link-photo") / "camera.jpg").read_bytes()
    server = ImageServer(photo)
    server.photo = photo
    yield server
    server.close()


@pytest.fixture
def link_app(overrides):
    """The app with links to 127.0.0.1 allowed, a 1 MB upload limit and a short fetch deadline."""
    with app_for(overrides | PRIVATE | {"max_upload_mb": 1, "link_fetch_timeout_s": 3.0}) as app:
        app.config["TESTING"] = True
        yield app


@pytest.fixture
def strict_app(app):
    """The app as deployed: links to private addresses refused (the default)."""
    return app


def post_link(client, url, **more):
    return client.post("/api/v1/analyses", json={"url": url} | more)


def refused(resp, status: int, *words: str) -> str:
    body = resp.get_json()
    assert resp.status_code == status, body
    assert body["status"] == status
    for word in words:
        assert word in body["error"], body["error"]
    return body["error"]


# --- the happy path, with a real worker ---

@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def stack(request, tmp_path_factory):
    url = emptied(request.getfixturevalue("postgres_url")) if request.param == "postgres" else None
    overrides = isolated(tmp_path_factory.mktemp("link-e2e"), "linke2e", url, **PRIVATE)
    with app_for(overrides) as app:
        worker = Worker(overrides).wait_ready()
        yield app, worker
        worker.stop()


@pytest.mark.slow
def test_a_jpeg_by_link_is_analysed_with_where_it_came_from_recorded(stack, images):
    app, worker = stack
    client = app.test_client()
    url = images.url("/photo.jpg")
    resp = post_link(client, url)
    assert resp.status_code == 202, resp.get_json()
    sub = resp.get_json()
    assert (sub["source_url"], sub["source_final_url"], sub["source_address"]) == (url, url, "127.0.0.1")
    assert sub["filename"] == "photo.jpg"
    body = wait_final(lambda u: client.get(u).get_json(), sub["status_url"])
    assert body["status"] == "done", body.get("error") or "".join(worker.log)[-3000:]
    assert body["verdict"] in ("real", "uncertain", "fake")
    assert body["source_url"] == url and body["source_address"] == "127.0.0.1"
    import hashlib

    assert body["sha256"] == hashlib.sha256(images.photo).hexdigest()  # exactly the bytes served
    # the request asked for the bytes as they are
    assert images.requests[-1]["headers"]["Accept-Encoding"] == "identity"
    report = client.get(f"/api/v1/analyses/{sub['id']}/report").get_json()
    assert report["file"]["source_url"] == url and report["file"]["source_address"] == "127.0.0.1"


@pytest.mark.slow
def test_a_redirect_chain_is_followed_and_the_final_url_recorded(stack, images):
    app, _ = stack
    client = app.test_client()
    url = images.url("/r/3")  # /r/3 -> /r/2 -> /r/1 -> /r/0 -> /photo.jpg: four redirects
    sub = post_link(client, url).get_json()
    assert sub["source_url"] == url and sub["source_final_url"] == images.url("/photo.jpg"), sub
    body = wait_final(lambda u: client.get(u).get_json(), sub["status_url"])
    assert body["status"] == "done" and body["source_final_url"] == images.url("/photo.jpg")
    page = client.get(sub["page_url"]).get_data(as_text=True)
    assert images.url("/r/3") in page and images.url("/photo.jpg") in page


# --- through the API, no worker needed: the analysis is accepted (queued) or refused ---

def test_the_link_goes_through_the_upload_path_and_shares_an_identical_upload_in_flight(link_app, images):
    client = link_app.test_client()
    by_link = post_link(client, images.url("/photo.jpg"))
    assert by_link.status_code == 202, by_link.get_json()
    again = post_link(client, images.url("/photo.jpg"))
    assert again.get_json()["id"] == by_link.get_json()["id"]  # the same bytes in flight: one analysis
    # a form field works as the JSON body does
    form = client.post("/api/v1/analyses", data={"url": images.url("/photo.jpg")})
    assert form.status_code == 202 and form.get_json()["id"] == by_link.get_json()["id"]


def test_a_link_to_an_html_page_is_415_with_the_upload_message_and_the_link(link_app, images):
    from shared import images as image_types

    error = refused(post_link(link_app.test_client(), images.url("/page.html")), 415, image_types.NOT_ACCEPTED,
                    images.url("/page.html"), "text/html")
    assert error.startswith(image_types.NOT_ACCEPTED)


def test_a_404_remote_is_422_and_a_500_is_502(link_app, images):
    client = link_app.test_client()
    refused(post_link(client, images.url("/missing")), 422, "answered HTTP 404", images.url("/missing"))
    refused(post_link(client, images.url("/broken")), 502, "HTTP 500", images.url("/broken"))


def test_nothing_listening_is_502_and_an_unknown_name_422(link_app):
    from tests.receivers import closed_port_url

    client = link_app.test_client()
    refused(post_link(client, closed_port_url()), 502, "could not connect", "refused")
    refused(post_link(client, "http://no-such-host.invalid/a.jpg"), 422, "'no-such-host.invalid' cannot be resolved")


def test_too_many_redirects(link_app, images):
    refused(post_link(link_app.test_client(), images.url("/r/9")), 422, "redirects more than 5 times",
            "LINK_MAX_REDIRECTS")
    assert post_link(link_app.test_client(), images.url("/r/4")).status_code == 202  # exactly five is fine


@pytest.mark.parametrize("scheme_url", ["file:///etc/passwd", "ftp://127.0.0.1/a.jpg", "gopher://127.0.0.1:70/1",
                                        "javascript:alert(1)", "/relative.jpg", "http://"])
def test_only_absolute_http_links(link_app, scheme_url):
    refused(post_link(link_app.test_client(), scheme_url), 400, "url must be an absolute http:// or https:// URL")


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://127.0.0.1/a.jpg", "gopher://127.0.0.1:70/1"])
def test_a_redirect_to_another_scheme_is_refused_naming_the_hop(link_app, images, target):
    from urllib.parse import quote

    error = refused(post_link(link_app.test_client(), images.url("/to?u=" + quote(target))), 400,
                    "redirected (hop 1)", repr(target), "http:// or https://")
    assert "resolves" not in error


def test_credentials_in_the_link_are_refused_on_the_first_hop_and_after_a_redirect(link_app, images):
    from urllib.parse import quote

    client = link_app.test_client()
    with_user = images.url("/photo.jpg").replace("http://", "http://user:secret@")
    refused(post_link(client, with_user), 400, "must not carry a user name or password")
    refused(post_link(client, images.url("/to?u=" + quote(with_user))), 400, "redirected (hop 1)",
            "must not carry a user name or password")


def test_a_body_over_the_limit_is_413_with_no_content_length_a_lying_one_or_a_declared_one(link_app, images):
    client = link_app.test_client()
    for path in ("/big", "/big-lying", "/big-declared"):
        refused(post_link(client, images.url(path)), 413, "larger than the 1 MB limit")


def test_a_server_that_trickles_is_cut_at_the_deadline(link_app, images):
    client = link_app.test_client()
    for path in ("/trickle", "/trickle-head"):
        started = time.monotonic()
        refused(post_link(client, images.url(path)), 504, "longer than 3 s", "LINK_FETCH_TIMEOUT_S")
        assert time.monotonic() - started < 3 + 1.5, path


def test_both_file_and_url_or_neither_is_a_400_naming_the_fields(link_app, images):
    client = link_app.test_client()
    both = client.post("/api/v1/analyses", data={"file": (io.BytesIO(make_jpeg()), "a.jpg"),
                                                 "url": images.url("/photo.jpg")},
                       content_type="multipart/form-data")
    refused(both, 400, "either a file", "'file'", "'url'", "not both")
    for neither in (client.post("/api/v1/analyses", data={}, content_type="multipart/form-data"),
                    client.post("/api/v1/analyses", json={}),
                    client.post("/api/v1/analyses", json={"url": "  "})):
        refused(neither, 400, "no image was sent", "'file'", "'url'")
    refused(client.post("/api/v1/analyses", json=["a"]), 400, "dictionary")  # the request model's own words
    refused(client.post("/api/v1/analyses", json={"url": 5}), 400, "url")


def test_a_link_with_a_private_callback_is_refused_as_a_file_upload_is(strict_app, images):
    with_callback = post_link(strict_app.test_client(), "https://example.org/a.jpg",
                              callback_url="http://127.0.0.1:9/hook")
    refused(with_callback, 400, "callback_url host", "WEBHOOK_ALLOW_PRIVATE")


def test_too_many_fetches_at_once_is_503_with_retry_after(link_app, images):
    settings = link_app.config["SETTINGS"]
    with link_fetch.slot(settings), link_fetch.slot(settings):  # LINK_MAX_CONCURRENT=2 taken
        resp = post_link(link_app.test_client(), images.url("/photo.jpg"))
    refused(resp, 503, "LINK_MAX_CONCURRENT")
    assert resp.headers["Retry-After"] == "5"
    assert post_link(link_app.test_client(), images.url("/photo.jpg")).status_code == 202  # released


# --- the address rule, with LINK_ALLOW_PRIVATE false ---

@pytest.mark.parametrize(("host", "address", "kind"), [
    ("127.0.0.1", "127.0.0.1", "loopback"), ("[::1]", "::1", "loopback"), ("10.1.2.3", "10.1.2.3", "private"),
    ("169.254.169.254", "169.254.169.254", "link-local"), ("localhost", "127.0.0.1", "loopback"),
    ("[::ffff:10.0.0.1]", "::ffff:a00:1", "private"), ("0.0.0.0", "0.0.0.0", "unspecified"),
])
def test_private_addresses_are_refused(strict_app, images, host, address, kind):
    port = images.port
    error = refused(post_link(strict_app.test_client(), f"http://{host}:{port}/photo.jpg"), 400,
                    f"resolves to {address}, a {kind} address", "LINK_ALLOW_PRIVATE")
    assert error.startswith("url host")


def test_the_refused_link_never_reaches_the_server(strict_app, images):
    before = len(images.requests)
    post_link(strict_app.test_client(), images.url("/photo.jpg"))
    assert len(images.requests) == before


@pytest.mark.parametrize(("target", "words"), [
    ("http://10.0.0.7/inner.jpg", "a private address"), ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://localhost:8080/", "a loopback address"), ("http://[::1]/", "a loopback address"),
    ("ftp://example.org/a.jpg", "http:// or https://"),
])
def test_every_redirect_hop_is_checked_by_the_same_rule(target, words):
    """A public first hop redirecting inward: the check fetch() runs on each hop, called with the redirect's
    target (the chain itself is shown followed, and a hop to another scheme refused, above)."""
    with pytest.raises(link_fetch.LinkError) as caught:
        link_fetch.check_hop(target, allow_private=False, hop=2)
    assert caught.value.status == 400
    assert "redirected (hop 2)" in caught.value.message and repr(target) in caught.value.message
    assert words in caught.value.message


def test_the_first_hop_check_and_a_public_address_pass():
    target = link_fetch.check_hop("http://93.184.215.14/a.jpg", allow_private=False)  # a literal: no lookup
    assert target.ips == ("93.184.215.14",) and target.host_header == "93.184.215.14"


def test_callbacks_and_links_share_one_rule_with_their_own_words():
    from shared import addresses, callbacks

    for policy, words in ((addresses.CALLBACKS, "webhooks go only to public addresses (WEBHOOK_ALLOW_PRIVATE"),
                          (addresses.LINKS, "images are fetched only from public addresses (LINK_ALLOW_PRIVATE")):
        with pytest.raises(addresses.Refused, match=r"resolves to 127\.0\.0\.1, a loopback address") as caught:
            addresses.resolve("http://127.0.0.1/", False, policy)
        assert words in str(caught.value)
    assert callbacks.Refused is addresses.Refused
    assert callbacks.resolve("http://127.0.0.1:9/hook", True).ips == ("127.0.0.1",)


def test_the_fetch_connects_to_the_checked_address_with_the_host_header_of_the_url(images, tmp_path, monkeypatch):
    """No second lookup: `localhost` is resolved once, the socket goes to that address, Host stays the name."""
    import socket

    lookups = []
    real = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, *a, **k: lookups.append(host) or real(host, *a, **k))
    settings = Settings.from_env(data_dir=tmp_path, **PRIVATE)
    fetched = link_fetch.fetch(f"http://localhost:{images.port}/photo.jpg", settings)
    with fetched.body:
        assert fetched.body.read() == images.photo
    assert fetched.address in ("127.0.0.1", "::1")
    assert images.requests[-1]["headers"]["Host"] == f"localhost:{images.port}"
    import ipaddress

    def is_name(host: str) -> bool:
        try:
            ipaddress.ip_address(host)
            return False
        except ValueError:
            return True

    assert [h for h in lookups if is_name(h)] == ["localhost"]  # the check's lookup, and no other of the name


# --- the page's hand-off to reverse image search ---

def test_reverse_search_links_are_url_encoded_for_each_engine():
    url = "https://example.org/a b/photo.jpg?x=1&y=2#frag"
    links = dict(reverse_search.links(url))
    encoded = "https%3A%2F%2Fexample.org%2Fa%20b%2Fphoto.jpg%3Fx%3D1%26y%3D2%23frag"
    assert links == {
        "Google Lens": f"https://lens.google.com/uploadbyurl?url={encoded}",
        "Bing": f"https://www.bing.com/images/search?view=detailv2&iss=sbi&q=imgurl:{encoded}",
        "TinEye": f"https://tineye.com/search?url={encoded}",
        "Yandex": f"https://yandex.com/images/search?rpt=imageview&url={encoded}",
    }
    assert reverse_search.links(None) == [] and reverse_search.links("") == []


def test_the_result_page_of_a_link_shows_its_source_and_the_engines_an_upload_does_not(link_app, images):
    client = link_app.test_client()
    sub = post_link(client, images.url("/photo.jpg")).get_json()
    page = client.get(sub["page_url"]).get_data(as_text=True)
    assert 'id="source-url"' in page and images.url("/photo.jpg") in page
    for _name, href in reverse_search.links(images.url("/photo.jpg")):
        assert f'href="{href.replace("&", "&amp;")}" target="_blank" rel="noopener noreferrer"' in page
    assert "Nothing is sent to these engines unless you" in page
    upload = client.post("/api/v1/analyses", data={"file": (io.BytesIO(make_jpeg((80, 60))), "a.jpg")},
                         content_type="multipart/form-data").get_json()
    plain = client.get(upload["page_url"]).get_data(as_text=True)
    assert "source-box" not in plain and "lens.google.com" not in plain and "source_url" not in upload
    report = client.get(f"/analyses/{sub['id']}/report").get_data(as_text=True)
    assert 'id="r-source-url"' in report and images.url("/photo.jpg") in report


def test_the_upload_page_form_posts_a_link_with_the_session_csrf_token(overrides, images):
    """The page's form (CSRF on, as deployed): without the token it is refused, with it accepted."""
    import re

    from web import create_app

    app = create_app(overrides | PRIVATE)
    try:
        client = app.test_client()
        page = client.get("/").get_data(as_text=True)
        assert 'id="link-form"' in page and 'name="url"' in page
        token = re.search(r'id="link-form".*?name="csrf_token" value="([^"]+)"', page, re.S).group(1)
        assert client.post("/analyses", data={"url": images.url("/photo.jpg")}).status_code == 400
        ok = client.post("/analyses", data={"url": images.url("/photo.jpg"), "csrf_token": token},
                         headers={"Accept": "application/json"})
        assert ok.status_code == 202 and ok.get_json()["source_url"] == images.url("/photo.jpg")
        bad = client.post("/analyses", data={"url": images.url("/missing"), "csrf_token": token},
                          headers={"Accept": "application/json"})
        assert bad.status_code == 422 and "answered HTTP 404" in bad.get_json()["error"]
        html = client.post("/analyses", data={"url": images.url("/missing"), "csrf_token": token})
        assert html.status_code == 422 and "answered HTTP 404" in html.get_data(as_text=True)
    finally:
        app.extensions["db_engine"].dispose()


# --- https: the checked address, the URL's name for SNI and the certificate; the watchdog on a stalled handshake ---

@pytest.fixture(scope="module")
def tls_images(tmp_path_factory, images):
    """An https server on 127.0.0.1 for the name `localhost`, with a self-signed certificate; the names it was
    asked for (SNI) are recorded."""
    import datetime
    import ssl
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    names: list[str | None] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    context.sni_callback = lambda _sock, server_name, _ctx: names.append(server_name)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(images.photo)))
            self.end_headers()
            self.wfile.write(images.photo)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield {"port": server.server_address[1], "cafile": folder / "cert.pem", "names": names}
    server.shutdown()
    server.server_close()


def test_https_goes_to_the_checked_address_with_the_urls_name_for_sni_and_the_certificate(tls_images, tmp_path,
                                                                                           monkeypatch, images):
    settings = Settings.from_env(data_dir=tmp_path, **PRIVATE)
    url = f"https://localhost:{tls_images['port']}/photo.jpg"
    with pytest.raises(link_fetch.LinkError) as caught:  # not trusted: the system's CA store does not know it
        link_fetch.fetch(url, settings)
    assert caught.value.status == 502 and "TLS certificate of 'localhost' is not valid" in caught.value.message
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_images["cafile"]))  # OpenSSL's default store: this one certificate
    fetched = link_fetch.fetch(url, settings)
    with fetched.body:
        assert fetched.body.read() == images.photo
    assert fetched.address == "127.0.0.1" and tls_images["names"][-1] == "localhost"
    # the certificate names localhost, not the address: the same server by its IP fails the name check
    with pytest.raises(link_fetch.LinkError, match="TLS certificate of '127.0.0.1' is not valid"):
        link_fetch.fetch(f"https://127.0.0.1:{tls_images['port']}/photo.jpg", settings)


def test_a_stalled_tls_handshake_ends_at_the_deadline(tmp_path):
    from tests.receivers import RawReceiver

    stalled = RawReceiver(hold_s=30)  # accepts, then says nothing
    try:
        settings = Settings.from_env(data_dir=tmp_path, link_fetch_timeout_s=2.0, **PRIVATE)
        started = time.monotonic()
        with pytest.raises(link_fetch.LinkError) as caught:
            link_fetch.fetch(stalled.url.replace("http://", "https://"), settings)
        assert caught.value.status == 504 and "LINK_FETCH_TIMEOUT_S" in caught.value.message
        assert time.monotonic() - started < 2 + 1.5
    finally:
        stalled.close()


def test_a_server_that_compresses_anyway_is_inflated_only_up_to_the_limit(tmp_path):
    """Accept-Encoding: identity is asked; a gzip body is read, but a gzip bomb stops at the size limit."""
    import gzip
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    small, bomb = gzip.compress(make_jpeg()), gzip.compress(b"\xff\xd8\xff\xe0" + b"\0" * (3 * 1024 * 1024))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = bomb if self.path == "/bomb" else small
            self.send_response(200)
            self.send_header("Content-Encoding", "gzip" if self.path != "/br" else "br")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        settings = Settings.from_env(data_dir=tmp_path, **PRIVATE)
        fetched = link_fetch.fetch(base + "/small", settings)
        with fetched.body:
            assert fetched.body.read() == make_jpeg()
        with pytest.raises(link_fetch.LinkError) as caught:
            link_fetch.fetch(base + "/bomb", settings, max_bytes=1024 * 1024)
        assert caught.value.status == 413 and "larger than the 1 MB limit" in caught.value.message
        with pytest.raises(link_fetch.LinkError, match="encoded as 'br'"):
            link_fetch.fetch(base + "/br", settings)
    finally:
        server.shutdown()
        server.server_close()


def test_every_answer_to_a_link_matches_the_openapi_document(link_app, images):
    from tests.receivers import closed_port_url
    from tests.test_openapi import checker

    check, client = checker(link_app), link_app.test_client()
    for path, status in (("/photo.jpg", 202), ("/page.html", 415), ("/missing", 422), ("/broken", 502),
                         ("/big", 413), ("/trickle", 504)):
        resp = post_link(client, images.url(path))
        assert resp.status_code == status, (path, resp.get_json())
        check(resp, "/api/v1/analyses", "post")
    for resp in (post_link(client, "ftp://x/"), post_link(client, closed_port_url())):
        check(resp, "/api/v1/analyses", "post")
    with link_fetch.slot(link_app.config["SETTINGS"]), link_fetch.slot(link_app.config["SETTINGS"]):
        check(post_link(client, images.url("/photo.jpg")), "/api/v1/analyses", "post")


def test_an_international_host_name_goes_out_as_idna_and_an_unexpected_failure_is_a_502(images, tmp_path,
                                                                                        monkeypatch):
    import socket

    real = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo",  # the test's name for 127.0.0.1; its address is checked as any
                        lambda host, *a, **k: real("127.0.0.1" if host == "bücher.test" else host, *a, **k))
    settings = Settings.from_env(data_dir=tmp_path, **PRIVATE)
    fetched = link_fetch.fetch(f"http://bücher.test:{images.port}/photo.jpg", settings)
    fetched.body.close()
    assert images.requests[-1]["headers"]["Host"] == f"xn--bcher-kva.test:{images.port}"

    def broken(*_args):
        raise RuntimeError("a bug")

    monkeypatch.setattr(link_fetch, "_head", broken)
    with pytest.raises(link_fetch.LinkError) as caught:
        link_fetch.fetch(images.url("/photo.jpg"), settings)
    assert caught.value.status == 502 and "could not be fetched (RuntimeError)" in caught.value.message
