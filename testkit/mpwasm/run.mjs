// Runs one Python script under the official MicroPython WebAssembly port.
// Reads a JSON job on stdin: {"heapsize": int, "files": {"/path": "base64"}, "prelude": str, "script": str}.
// The files are written into MicroPython's virtual FS first, so the script can import them; the prelude
// (path and shims) runs in the same globals just before the script, keeping its line numbers intact.
// Exit code 0: the script finished; 1: it raised (traceback on stderr); 2: bad job.
import { readFileSync } from "node:fs";
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";

const job = JSON.parse(readFileSync(0, "utf8"));
if (typeof job.script !== "string") {
  process.stderr.write("run.mjs: job has no script\n");
  process.exit(2);
}

const mp = await loadMicroPython({
  heapsize: job.heapsize ?? 8 * 1024 * 1024,
  stdout: (line) => process.stdout.write(line + "\n"),
  stderr: (line) => process.stderr.write(line + "\n"),
});

for (const [path, b64] of Object.entries(job.files ?? {})) {
  const dir = path.slice(0, path.lastIndexOf("/"));
  if (dir) mp.FS.mkdirTree(dir);
  mp.FS.writeFile(path, Buffer.from(b64, "base64"));
}

try {
  if (job.prelude) mp.runPython(job.prelude);
  mp.runPython(job.script);
} catch (err) {
  process.stderr.write(String(err && err.message ? err.message : err) + "\n");
  process.exitCode = 1;
}
