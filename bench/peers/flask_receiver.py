"""Baseline: the Flask receiver ESP32 camera projects copy, kept as they write it.

A global latest frame (here one per camera id so N cameras can post), `POST /upload` with the raw JPEG as the
body, and a `while True: yield` MJPEG generator per viewer on Flask's threaded development server. Nothing is
tuned: that is the point of the baseline.

    python bench/peers/flask_receiver.py --port 5000
"""

import argparse

from flask import Flask, Response, request

app = Flask(__name__)
frames: dict[str, bytes] = {}


@app.route("/upload", methods=["POST"])
@app.route("/upload/<cam>", methods=["POST"])
def upload(cam="default"):
    frames[cam] = request.data
    return "OK"


def gen(cam):
    while True:
        frame = frames.get(cam)
        if frame is not None:
            yield b"--frame\r\nContent-Type: image/jpeg\r\n\r\n" + frame + b"\r\n"


@app.route("/stream")
@app.route("/stream/<cam>")
def stream(cam="default"):
    return Response(gen(cam), mimetype="multipart/x-mixed-replace; boundary=frame")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args()
    app.run(host=args.host, port=args.port, threaded=True)
