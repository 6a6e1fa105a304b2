"""camhub.multipart: real senders' bodies (firmware, aiohttp, requests, curl, a browser) and every malformation,
then the same bodies through the hub's frame endpoint (camhub.ingest) on a real socket."""

import aiohttp
import pytest

from camhub.multipart import MAX_PARTS, MultipartError, boundary, parameters, parse
from camstream.uplink import FrameUplink
from testkit.fakes import FakeCamera, FakeClock, FakeConnectionManager, FakeSocket
from testkit.hubs import KEY, devices
from testkit.jpegs import make_jpeg

JPEG = make_jpeg("multipart")
# Worst case for a boundary search: the frame holds the boundary text and line breaks, but never CRLF + "--" + it.
TRICKY = b"\xff\xd8--XyZ\r\nXyZ--\r\n\r\n-\r\n-XyZ\r\r\n\n--XyZ--\xff\xd9"


def form(boundary_text: str, parts: list[tuple[bytes, bytes]], preamble: bytes = b"", epilogue: bytes = b"") -> bytes:
    """A body from (header block, content) pairs, framed exactly as RFC 2046 says."""
    dash = b"--" + boundary_text.encode()
    body = b"".join(
        (b"\r\n" if i or preamble else b"") + dash + b"\r\n" + head + b"\r\n" + data
        for i, (head, data) in enumerate(parts)
    )
    return preamble + body + b"\r\n" + dash + b"--" + epilogue


def field(name: str, data: bytes, *extra: str) -> tuple[bytes, bytes]:
    lines = [f'Content-Disposition: form-data; name="{name}"', *extra]
    return "".join(line + "\r\n" for line in lines).encode(), data


def image(data: bytes = JPEG, kind: str | None = "image/jpeg", filename: str = "frame.jpg") -> tuple[bytes, bytes]:
    return field("image", data, *([f"Content-Type: {kind}"] if kind else []))[0].replace(
        b'name="image"', f'name="image"; filename="{filename}"'.encode()
    ), data


def firmware_upload(jpeg: bytes = JPEG) -> tuple[str, bytes]:
    """Content-Type and body exactly as CIRCUITPY/lib/camstream/uplink.py puts them on the wire."""
    sockets: list[FakeSocket] = []

    def factory() -> FakeSocket:
        sockets.append(FakeSocket(keep=True, eagain_every=0, max_send=1 << 22))
        return sockets[-1]

    uplink = FrameUplink(FakeConnectionManager(factory), "http://127.0.0.1:9005", "k", "cam1", clock=FakeClock())
    assert uplink.send(FakeCamera([jpeg]).take(), 1, 0) == 200
    head, _, body = bytes(sockets[0].sent).partition(b"\r\n\r\n")
    headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:])
    assert int(headers["Content-Length"]) == len(body)
    return headers["Content-Type"], body


async def aiohttp_upload(jpeg: bytes = JPEG) -> tuple[str, bytes]:
    data = aiohttp.FormData()
    data.add_field("deviceId", "cam1")
    data.add_field("image", jpeg, content_type="image/jpeg", filename="frame.jpg")
    payload = data()
    return payload.content_type, await payload.as_bytes()


def requests_upload(jpeg: bytes = JPEG, with_type: bool = True) -> tuple[str, bytes]:
    """What requests.post(url, data={"deviceId": "cam1"}, files={"image": ("frame.jpg", jpeg[, "image/jpeg"])})
    sends: uuid4-hex boundary, data fields first, a file part without Content-Type when none is given."""
    b = "a3f1c2d4e5b64789a0b1c2d3e4f5a6b7"
    return f"multipart/form-data; boundary={b}", form(
        b, [field("deviceId", b"cam1"), image(jpeg, "image/jpeg" if with_type else None)]
    )


def curl_upload(jpeg: bytes = JPEG) -> tuple[str, bytes]:
    """curl 7.88 -F image=@frame.jpg -F deviceId=cam1 (captured): 24-dash boundary, file part first."""
    b = "------------------------f86e64d3c641d8df"
    return f"multipart/form-data; boundary={b}", form(b, [image(jpeg), field("deviceId", b"cam1")])


def browser_upload(jpeg: bytes = JPEG) -> tuple[str, bytes]:
    """Chromium's FormData: WebKit boundary, the file part last, an empty unrelated field."""
    b = "----WebKitFormBoundaryx5RdTL0AqmiKJvGC"
    return f"multipart/form-data; boundary={b}", form(
        b, [field("deviceId", b"cam1"), field("note", b""), image(jpeg, filename="IMG 0001 (1).jpg")]
    )


def parse_upload(content_type: str, body: bytes) -> dict[str, tuple[str | None, str | None, bytes]]:
    parts = parse(body, boundary(content_type))
    assert all(part.data.obj is body for part in parts), "parts must be views into the body, not copies"
    return {part.name: (part.filename, part.content_type, bytes(part.data)) for part in parts}


async def test_real_senders_bodies_parse_to_the_same_form():
    for content_type, body in (
        firmware_upload(),
        await aiohttp_upload(),
        requests_upload(),
        curl_upload(),
        browser_upload(),
    ):
        parsed = parse_upload(content_type, body)
        assert parsed["image"][1:] == ("image/jpeg", JPEG), content_type
        assert parsed["deviceId"][2] == b"cam1"
    assert parse_upload(*requests_upload(with_type=False))["image"] == ("frame.jpg", None, JPEG)
    assert parse_upload(*browser_upload())["image"][0] == "IMG 0001 (1).jpg"
    assert parse_upload(*(await aiohttp_upload()))["deviceId"][1] == "text/plain"


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("multipart/form-data; boundary=XyZ", b"XyZ"),
        ('multipart/form-data; boundary="XyZ"', b"XyZ"),
        ('Multipart/Form-Data;BOUNDARY="a b:c=d?"; charset=utf-8', b"a b:c=d?"),
        ('multipart/form-data; charset="utf-8" ; boundary = "a\\.b"', b"a.b"),
        ("multipart/form-data; boundary=" + "x" * 70, b"x" * 70),
    ],
)
def test_boundary_from_content_type(content_type, expected):
    assert boundary(content_type) == expected


@pytest.mark.parametrize(
    ("content_type", "message"),
    [
        ("multipart/form-data", "no boundary parameter"),
        ("multipart/form-data; charset=utf-8", "no boundary parameter"),
        ("multipart/form-data; boundary=", "1 to 70 characters"),
        ('multipart/form-data; boundary=""', "1 to 70 characters"),
        ("multipart/form-data; boundary=" + "x" * 71, "1 to 70 characters"),
        ('multipart/form-data; boundary="ends with space "', "does not allow"),
        ("multipart/form-data; boundary=a{b}", "does not allow"),
        ('multipart/form-data; boundary="qu\\"ote"', "does not allow"),
        ("multipart/form-data; boundary=XyZ; boundary=Abc", "'boundary' twice"),
        ('multipart/form-data; boundary="XyZ', "no closing quote"),
        ('multipart/form-data; boundary="XyZ"junk', "after its closing quote"),
        ("multipart/form-data; boundary", "has no '=value'"),
        ("multipart/mixed; boundary=XyZ", "not multipart/form-data"),
        ("; boundary=XyZ", "no value before its parameters"),
    ],
)
def test_bad_content_types_are_named(content_type, message):
    with pytest.raises(MultipartError, match=message):
        boundary(content_type)


def test_parameters_unquote_and_lowercase_names():
    kind, params = parameters(
        'form-data; NAME="image"; filename="a \\"b\\" c.jpg"; filename*=UTF-8\'\'x.jpg', "Content-Disposition"
    )
    assert kind == "form-data"
    assert params == {"name": "image", "filename": 'a "b" c.jpg', "filename*": "UTF-8''x.jpg"}


def test_preamble_epilogue_padding_and_frame_bytes_that_look_like_boundaries():
    body = form(
        "XyZ",
        [field("deviceId", b"cam1"), image(TRICKY)],
        preamble=b"A preamble, not --XyZ\r\n-XyZ",
        epilogue=b"\r\nan epilogue\r\n--XyZ\r\n",
    )
    body = body.replace(b"--XyZ\r\nContent-Disposition", b"--XyZ \t\r\nContent-Disposition", 1)
    parts = parse(body, b"XyZ")
    assert [(p.name, bytes(p.data)) for p in parts] == [("deviceId", b"cam1"), ("image", TRICKY)]


def test_empty_content_and_part_without_content_type():
    parts = parse(form("b", [field("note", b""), field("other", b"\r\n")]), b"b")
    assert [(p.name, p.content_type, bytes(p.data)) for p in parts] == [("note", None, b""), ("other", None, b"\r\n")]


GOOD = form("XyZ", [field("deviceId", b"cam1"), image()])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "no boundary line '--XyZ'"),
        (b"this is not multipart", "no boundary line '--XyZ'"),
        (GOOD.replace(b"\r\n", b"\n"), "not a line break"),
        (GOOD[:-7], "part 2 is not followed by a boundary"),
        (GOOD[:-5], "part 2 is not followed by a boundary"),
        (GOOD[: len(GOOD) // 2], "part 2 is not followed by a boundary"),
        (GOOD[:-2], "ends without its closing boundary --XyZ--"),
        (GOOD[:-2] + b"\r\n", "ends without its closing boundary --XyZ--"),
        (b"--XyZ--\r\n", "no parts"),
        (GOOD.replace(b"--XyZ\r\n", b"--XyZjunk\r\n", 1), "followed by b'junk"),
        (form("XyZ", [(b'Content-Disposition: form-data; name="image"', JPEG)]), "part 1: its header block"),
        (
            form("XyZ", [(b'Content-Disposition: form-data; name="image"\r\n', JPEG)]).replace(
                b'name="image"\r\n\r\n', b'name="image"\r\n', 1
            ),
            "does not end with a blank line",
        ),
        (form("XyZ", [(b"", b"cam1")]), "part 1 has no Content-Disposition"),
        (form("XyZ", [(b"Content-Type: image/jpeg\r\n", JPEG)]), "no Content-Disposition"),
        (form("XyZ", [(b'Content-Disposition: attachment; name="image"\r\n', JPEG)]), "not form-data"),
        (form("XyZ", [(b'Content-Disposition: form-data; filename="a.jpg"\r\n', JPEG)]), "no name parameter"),
        (form("XyZ", [(b'Content-Disposition: form-data; name="image\r\n', JPEG)]), "no closing quote"),
        (form("XyZ", [field("a", b"1"), (b"Content-Disposition form-data\r\n", b"")]), "part 2: malformed header"),
        (form("XyZ", [(b'Content-Disposition: form-data;\r\n name="image"\r\n', JPEG)]), "folded header line"),
        (form("XyZ", [(b'Bad Name: x\r\nContent-Disposition: form-data; name="a"\r\n', b"")]), "malformed header"),
        (form("XyZ", [field("image", JPEG, "Content-Type: image/jpeg", "content-type: image/png")]), "twice"),
        (form("XyZ", [field("image", JPEG, "Content-Type: jpeg")]), "not a media type"),
        (form("XyZ", [field("image", JPEG, "Content-Transfer-Encoding: base64")]), "'base64' is not supported"),
        (form("XyZ", [(b'Content-Disposition: form-data; name="\xff"\r\n', b"")]), "not UTF-8"),
        (form("XyZ", [field(f"f{i}", b"") for i in range(MAX_PARTS + 1)]), f"more than {MAX_PARTS} parts"),
        (
            form("XyZ", [(b"X: " + b"y" * 9000 + b'\r\nContent-Disposition: form-data; name="a"\r\n', b"")]),
            "headers longer than",
        ),
    ],
)
def test_malformed_bodies_are_named(body, message):
    with pytest.raises(MultipartError, match=message):
        parse(body, b"XyZ")


def test_transfer_encoding_binary_is_accepted():
    parts = parse(form("XyZ", [field("image", JPEG, "Content-Transfer-Encoding: binary")]), b"XyZ")
    assert bytes(parts[0].data) == JPEG


# The same bodies through POST /api/v1/stream/stream (camhub.ingest) on a real socket.


async def post(client, url, content_type, body):
    headers = {"X-API-Key": KEY, "Content-Type": content_type, "X-Device-Id": "cam1"}
    async with client.post(f"{url}/api/v1/stream/stream", data=body, headers=headers) as response:
        return response.status, await response.json()


async def test_hub_accepts_every_real_sender(hub, client):
    url = hub.url
    uploads = [
        firmware_upload(make_jpeg("firmware")),
        await aiohttp_upload(make_jpeg("aiohttp")),
        requests_upload(make_jpeg("requests"), with_type=False),
        curl_upload(make_jpeg("curl")),
        browser_upload(make_jpeg("browser")),
    ]
    for content_type, body in uploads:
        status, answer = await post(client, url, content_type, body)
        assert status == 200, answer
        jpeg = parse_upload(content_type, body)["image"][2]
        assert answer["bytes"] == len(jpeg)
        async with client.get(f"{url}/devices/cam1/snapshot.jpg") as response:
            assert await response.read() == jpeg
    assert (await devices(client, url))[0]["frames"] == len(uploads)


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (form("XyZ", [image(), image()]), 400, "more than one 'image' part"),
        (
            form("XyZ", [field("deviceId", b"cam1"), field("deviceId", b"cam1"), image()]),
            400,
            "more than one 'deviceId'",
        ),
        (form("XyZ", [field("deviceId", b"c" * 300), image()]), 413, "'deviceId' exceeds the 256-byte limit"),
        (
            form("XyZ", [(b'Content-Disposition: form-data; name="image"', JPEG)]),
            400,
            "malformed multipart body: part 1: its header block does not end with a blank line",
        ),
        (GOOD[:-7], 400, "malformed multipart body: part 2 is not followed by a boundary"),
    ],
)
async def test_hub_refuses_bad_forms_and_stores_nothing(hub, client, body, status, message):
    url = hub.url
    code, answer = await post(client, url, "multipart/form-data; boundary=XyZ", body)
    assert (code, message in answer["error"]) == (status, True), answer
    assert await devices(client, url) == []


async def test_hub_caps_a_chunked_multipart_upload(hub_factory, client):
    url = (await hub_factory(max_frame_bytes=20_000)).url
    body = form("XyZ", [image(b"\xff\xd8" + bytes(200_000) + b"\xff\xd9")])

    async def chunks():
        for start in range(0, len(body), 8192):
            yield body[start : start + 8192]

    status, answer = await post(client, url, "multipart/form-data; boundary=XyZ", chunks())
    assert status == 413 and "20000-byte frame limit" in answer["error"]
    small = form("XyZ", [image(b"\xff\xd8" + bytes(30_000) + b"\xff\xd9")])
    status, answer = await post(client, url, "multipart/form-data; boundary=XyZ", small)
    assert status == 413 and "frame of 30004 bytes exceeds the 20000-byte limit" in answer["error"]
    assert await devices(client, url) == []
