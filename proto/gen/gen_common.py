"""Helpers shared by gen.py and gen_aux.py."""


def cid(name):
    return name.replace('-', '_')


def CID(name):
    return cid(name).upper()


class Emit:
    def __init__(self):
        self.lines = []
        self.n = 0

    def __call__(self, s=''):
        self.lines.append(s)

    def uniq(self):
        self.n += 1
        return self.n
