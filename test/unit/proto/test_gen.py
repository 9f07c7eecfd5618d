#!/usr/bin/env python3
"""The generator refuses catalogs outside the CDDL subset or its rules,
with file and line; and accepts a minimal valid one.
usage: test_gen.py PROTO_GEN_DIR_OF_SOURCES"""
import os
import subprocess
import sys
import tempfile

gen = os.path.join(sys.argv[1], 'gen.py')

GOOD = '''protocol-version = 1
color = &(
  red: 1,  ; red
)
thing = {
  0: tstr .size (1..8),  ; name: a name
  ? 1: color,            ; color: a color
}
ping = {
  0: 1,                  ; type: message type
  2: uint,               ; request-id: id
  4: [0*3 thing],        ; things: things
}
'''

BAD = [
    ('required key must be even', GOOD.replace('  4: [0*3 thing],', '  5: [0*3 thing],'),
     'required keys are even'),
    ('optional key must be odd', GOOD.replace('? 1: color', '? 2: color'), 'optional keys odd'),
    ('missing request id', GOOD.replace('  2: uint,               ; request-id: id\n', ''),
     'needs 0: type and 2: request-id'),
    ('unknown type', GOOD.replace('[0*3 thing]', '[0*3 widget]'), 'unknown type widget'),
    ('unbounded string', GOOD.replace('tstr .size (1..8)', 'tstr'), 'need a .size'),
    ('no member name', GOOD.replace('; name: a name', '; a name'), ':6: expected'),
    ('keys out of order', GOOD.replace('  0: tstr .size (1..8),  ; name: a name\n  ? 1: color,            ; color: a color',
                                       '  ? 1: color,            ; color: a color\n  0: tstr .size (1..8),  ; name: a name'),
     'unique and ascending'),
    ('duplicate type number', GOOD + 'pong = {\n  0: 1, ; type: t\n  2: uint, ; request-id: id\n}\n',
     'type 1 already used'),
    ('recursive map', GOOD.replace('? 1: color,            ; color: a color', '? 1: thing, ; inner: itself'),
     'recursive'),
    ('outside the subset', GOOD.replace('4: [0*3 thing]', '4: uint / tstr'), 'outside the CDDL subset'),
    ('no version', GOOD.replace('protocol-version = 1\n', ''), 'protocol-version is not defined'),
]


def run(text, tmp):
    cat = os.path.join(tmp, 'c.cddl')
    with open(cat, 'w') as f:
        f.write(text)
    return subprocess.run([sys.executable, gen, cat, os.path.join(tmp, 'out'), os.path.join(tmp, 'p.md')],
                          capture_output=True, text=True)


def main():
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        r = run(GOOD, tmp)
        if r.returncode != 0 or not os.path.exists(os.path.join(tmp, 'out', 'hv', 'proto_msgs.h')):
            print('FAIL: good catalog refused:', r.stderr)
            failures += 1
        for name, text, want in BAD:
            r = run(text, tmp)
            if r.returncode == 0 or want not in r.stderr or 'c.cddl' not in r.stderr:
                print('FAIL: %s: rc=%d stderr=%r' % (name, r.returncode, r.stderr))
                failures += 1
            else:
                print('ok: %s: %s' % (name, r.stderr.strip()))
    print('test_gen: %s' % ('FAIL' if failures else 'PASS'))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
