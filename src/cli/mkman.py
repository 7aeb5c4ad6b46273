#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Write msb's man pages from its own --help text, so the two never drift.

    mkman.py MSB OUTDIR VERSION PAGE...

msb.1 comes from `msb --help`; msb-CMD.1 from `msb CMD --help`, one page
per command listed there (with the help of each of its subcommands, the
"Commands:" of its own help, in the same page). The help text's shape is the house style of
src/cli: a "Usage:" line (or several), paragraphs, option lines indented
by two spaces and starting with "-", and sections ending in ":" ("Commands:",
"Environment:"). Anything else indented is kept as a literal block.
PAGE... are the pages the build expects (msb.1 msb-run.1 ...): a command
without a page, or a page without a command, is an error that says so.
"""
import re
import subprocess
import sys

DATE = "2026"


def run_help(msb, *args):
    r = subprocess.run([msb, *args, "--help"], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"mkman: `msb {' '.join(args)} --help` exited {r.returncode}")
    return r.stdout


def esc(text):
    """Roff-escape one line of text."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    if text.startswith((".", "'")):
        text = "\\&" + text
    return text


def commands(help_text):
    """The (name, summary) pairs of a "Commands:" section."""
    out, inside = [], False
    for line in help_text.splitlines():
        if line.strip() == "Commands:":
            inside = True
            continue
        if inside:
            m = re.match(r"^  (\S+)(?:\s.*?)?\s{2,}(\S.*)$", line) or \
                re.match(r"^  (\S+)\s+(\S.*)$", line)
            if not line.strip():
                break
            if m:
                out.append((m.group(1), m.group(2)))
    return out


OPTION = re.compile(r"^ {2,}(-\S.*?)(?:\s{2,}(\S.*))?$")


def body(help_text, skip_usage=True):
    """Roff for a help text: its usage lines become a synopsis."""
    lines = help_text.rstrip("\n").splitlines()
    usage, rest = [], []
    for i, line in enumerate(lines):
        if line.startswith("Usage: ") or (usage and line.startswith("       ")
                                          and i == len(usage)):
            usage.append(line[7:].strip())
        else:
            rest = lines[i:]
            break
    out = []
    state = None  # None, "para", "opts", "lit"
    for line in rest:
        if not line.strip():
            if state == "lit":
                out.append(".fi")
            state = None
            continue
        m = OPTION.match(line)
        if m:
            if state == "lit":
                out.append(".fi")
            out.append(".TP")
            out.append("\\fB" + esc(m.group(1).strip()) + "\\fR")
            if m.group(2):
                out.append(esc(m.group(2)))
            state = "opts"
        elif line.startswith(" "):
            if state == "opts" and line.startswith("      "):
                out.append(esc(line.strip()))  # an option's next line
                continue
            if state != "lit":
                out.append(".PP")
                out.append(".nf")
                state = "lit"
            out.append(esc(line.strip()))
        elif line.endswith(":") and len(line) < 40:
            if state == "lit":
                out.append(".fi")
            out.append(".SS " + esc(line[:-1]))
            state = None
        else:
            if state == "lit":
                out.append(".fi")
                state = None
            if state != "para":
                out.append(".PP")
                state = "para"
            out.append(esc(line))
    if state == "lit":
        out.append(".fi")
    return usage, out


def synopsis(usage):
    out = [".SH SYNOPSIS"]
    for u in usage:
        out.append(".nf")
        out.append("\\fB" + esc(u) + "\\fR")
        out.append(".fi")
    return out


def header(name, section_title, version):
    return [f'.TH {name.upper()} 1 "{DATE}" "microsandbox-c {version}" '
            f'"{section_title}"']


def page_main(msb, version):
    text = run_help(msb)
    usage, rest = body(text)
    cmds = commands(text)
    out = header("msb", "User Commands", version)
    out += [".SH NAME", "msb \\- run untrusted code in microVM sandboxes"]
    out += synopsis(usage)
    out += [".SH DESCRIPTION"] + rest
    out += [".SH SEE ALSO"]
    out.append(", ".join(f"\\fBmsb\\-{esc(c)}\\fR(1)" for c, _ in cmds
                         if c != "help"))
    return "\n".join(out) + "\n", cmds


def page_command(msb, name, summary, version):
    text = run_help(msb, name)
    usage, rest = body(text)
    out = header("msb-" + name, "User Commands", version)
    out += [".SH NAME", f"msb\\-{esc(name)} \\- {esc(summary)}"]
    out += synopsis(usage)
    out += [".SH DESCRIPTION"] + rest
    for sub, _ in commands(text):
        sub_name = sub.split()[0]
        usage_s, rest_s = body(run_help(msb, name, sub_name))
        out.append(f".SH {esc(name.upper())} {esc(sub_name.upper())}")
        for u in usage_s:
            out += [".nf", "\\fB" + esc(u) + "\\fR", ".fi"]
        out += rest_s
    out += [".SH SEE ALSO", "\\fBmsb\\fR(1)"]
    return "\n".join(out) + "\n"


def main():
    if len(sys.argv) < 5:
        sys.exit("usage: mkman.py MSB OUTDIR VERSION PAGE...")
    msb, outdir, version = sys.argv[1:4]
    text, cmds = page_main(msb, version)
    want = {p.rsplit("/", 1)[-1] for p in sys.argv[4:]}
    have = {"msb.1"} | {f"msb-{c}.1" for c, _ in cmds if c != "help"}
    if want != have:
        sys.exit("mkman: the man pages in src/cli/meson.build do not match "
                 "msb --help's commands: add " +
                 (", ".join(sorted(have - want)) or "nothing") +
                 "; remove " + (", ".join(sorted(want - have)) or "nothing"))
    with open(f"{outdir}/msb.1", "w") as f:
        f.write(text)
    for name, summary in cmds:
        if name == "help":
            continue
        with open(f"{outdir}/msb-{name}.1", "w") as f:
            f.write(page_command(msb, name, summary, version))


if __name__ == "__main__":
    main()
