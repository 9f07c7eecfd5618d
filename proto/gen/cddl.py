"""Parser for the strict CDDL subset of proto/catalog.cddl (see proto/README.md).

Produces a Catalog: constants, enums, structs (maps) and messages (maps whose
key 0 is an integer literal). Anything outside the subset is an error with
file and line, never silently ignored.
"""
import re


class CddlError(Exception):
    pass


class Type:
    """A member type. kind is one of: uint, int, bool, tstr, bstr, enum,
    struct, array. lo/hi bound uint values, string lengths or array counts."""

    def __init__(self, kind, lo=None, hi=None, ref=None, elem=None):
        self.kind, self.lo, self.hi, self.ref, self.elem = kind, lo, hi, ref, elem

    def cddl(self):
        if self.kind in ('uint',):
            if self.lo is not None and self.lo > 0:
                return '%d..%d' % (self.lo, self.hi)
            if self.hi is not None:
                return 'uint .le %d' % self.hi if self.lo is None else '%d..%d' % (self.lo, self.hi)
            return 'uint'
        if self.kind in ('tstr', 'bstr'):
            if self.lo is None:
                return self.kind
            return '%s .size (%d..%d)' % (self.kind, self.lo, self.hi)
        if self.kind in ('enum', 'struct'):
            return self.ref
        if self.kind == 'array':
            return '[%d*%d %s]' % (self.lo, self.hi, self.elem.cddl())
        return self.kind


class Member:
    def __init__(self, key, optional, typ, name, doc, literal=None):
        self.key, self.optional, self.type, self.name, self.doc = key, optional, typ, name, doc
        self.literal = literal  # for key 0 of messages


class Map:
    def __init__(self, name, doc, line):
        self.name, self.doc, self.line = name, doc, line
        self.members = []
        self.type_id = None  # set for messages

    @property
    def is_message(self):
        return self.type_id is not None


class Enum:
    def __init__(self, name, doc):
        self.name, self.doc = name, doc
        self.items = []  # (label, value, doc)


class Catalog:
    def __init__(self):
        self.constants = {}
        self.enums = {}
        self.maps = {}
        self.order = []  # names in file order

    def messages(self):
        return [self.maps[n] for n in self.order if n in self.maps and self.maps[n].is_message]

    def structs(self):
        return [self.maps[n] for n in self.order if n in self.maps and not self.maps[n].is_message]


NAME = r'[a-z][a-z0-9-]*'
RE_CONST = re.compile(r'^(%s)\s*=\s*(\d+)\s*$' % NAME)
RE_MAP_OPEN = re.compile(r'^(%s)\s*=\s*\{\s*$' % NAME)
RE_ENUM_OPEN = re.compile(r'^(%s)\s*=\s*&\(\s*$' % NAME)
RE_MEMBER = re.compile(r'^(\?\s*)?(\d+)\s*:\s*(.+?)\s*,\s*;\s*(%s)\s*:\s*(.*)$' % NAME)
RE_ITEM = re.compile(r'^(%s)\s*:\s*(\d+)\s*,\s*;\s*(.*)$' % NAME)

RE_T_RANGE = re.compile(r'^(\d+)\.\.(\d+)$')
RE_T_ULE = re.compile(r'^uint\s+\.le\s+(\d+)$')
RE_T_STR = re.compile(r'^(tstr|bstr)(?:\s+\.size\s+\((\d+)\.\.(\d+)\))?$')
RE_T_ARRAY = re.compile(r'^\[\s*(\d+)\s*\*\s*(\d+)\s+(.+)\]$')
RE_T_NAME = re.compile(r'^(%s)$' % NAME)

U64_MAX = (1 << 64) - 1


def parse_type(text, where):
    t = text.strip()
    if t == 'uint':
        return Type('uint')
    if t == 'int':
        return Type('int')
    if t == 'bool':
        return Type('bool')
    m = RE_T_RANGE.match(t)
    if m:
        lo, hi = int(m.group(1)), int(m.group(2))
        if lo > hi or hi > U64_MAX:
            raise CddlError('%s: bad range %s' % (where, t))
        return Type('uint', lo, hi)
    m = RE_T_ULE.match(t)
    if m:
        return Type('uint', None, int(m.group(1)))
    m = RE_T_STR.match(t)
    if m:
        if m.group(2) is None:
            raise CddlError('%s: strings need a .size (lo..hi) bound' % where)
        lo, hi = int(m.group(2)), int(m.group(3))
        if lo > hi or hi > 65536:
            raise CddlError('%s: bad size bound %s' % (where, t))
        return Type(m.group(1), lo, hi)
    m = RE_T_ARRAY.match(t)
    if m:
        lo, hi = int(m.group(1)), int(m.group(2))
        if lo > hi or hi > 1024:
            raise CddlError('%s: bad array bound %s' % (where, t))
        elem = parse_type(m.group(3), where)
        if elem.kind == 'array':
            raise CddlError('%s: arrays of arrays are outside the subset' % where)
        return Type('array', lo, hi, elem=elem)
    m = RE_T_NAME.match(t)
    if m:
        return Type('ref', ref=t)
    raise CddlError('%s: type "%s" is outside the CDDL subset' % (where, t))


def parse(path):
    cat = Catalog()
    lines = open(path, encoding='utf-8').read().split('\n')
    doc = []
    cur = None  # Map or Enum being filled
    for no, raw in enumerate(lines, 1):
        where = '%s:%d' % (path, no)
        line = raw.strip()
        if cur is None:
            if line.startswith(';'):
                doc.append(line[1:].strip())
                continue
            if not line:
                doc = []
                continue
            m = RE_CONST.match(line)
            if m:
                cat.constants[m.group(1)] = int(m.group(2))
                doc = []
                continue
            m = RE_MAP_OPEN.match(line)
            if m:
                cur = Map(m.group(1), ' '.join(doc), no)
            else:
                m = RE_ENUM_OPEN.match(line)
                if not m:
                    raise CddlError('%s: not a rule of the CDDL subset: %s' % (where, line))
                cur = Enum(m.group(1), ' '.join(doc))
            if cur.name in cat.maps or cur.name in cat.enums or cur.name in cat.constants:
                raise CddlError('%s: %s defined twice' % (where, cur.name))
            doc = []
            continue
        # inside a rule
        if isinstance(cur, Map) and line == '}' or isinstance(cur, Enum) and line == ')':
            if isinstance(cur, Map):
                cat.maps[cur.name] = cur
            else:
                cat.enums[cur.name] = cur
            cat.order.append(cur.name)
            cur = None
            continue
        if not line or line.startswith(';'):
            continue
        if isinstance(cur, Enum):
            m = RE_ITEM.match(line)
            if not m:
                raise CddlError('%s: expected "label: value, ; description"' % where)
            cur.items.append((m.group(1), int(m.group(2)), m.group(3)))
            continue
        m = RE_MEMBER.match(line)
        if not m:
            raise CddlError('%s: expected "[?] key: type, ; name: description"' % where)
        opt, key, tx, name, mdoc = bool(m.group(1)), int(m.group(2)), m.group(3), m.group(4), m.group(5)
        if key == 0 and re.match(r'^\d+$', tx.strip()) and not opt:
            cur.type_id = int(tx)
            cur.members.append(Member(0, False, Type('uint'), name, mdoc, literal=int(tx)))
            continue
        cur.members.append(Member(key, opt, parse_type(tx, where), name, mdoc))
    if cur is not None:
        raise CddlError('%s: rule %s not closed' % (path, cur.name))
    resolve(cat, path)
    return cat


def resolve(cat, path):
    ids = {}
    for mp in cat.maps.values():
        where = '%s:%d (%s)' % (path, mp.line, mp.name)
        keys = [m.key for m in mp.members]
        if keys != sorted(keys) or len(set(keys)) != len(keys):
            raise CddlError('%s: keys must be unique and ascending' % where)
        names = [m.name for m in mp.members]
        if len(set(names)) != len(names):
            raise CddlError('%s: member names must be unique' % where)
        for m in mp.members:
            if m.key > 0xffff:
                raise CddlError('%s: key %d too large' % (where, m.key))
            if m.optional != (m.key % 2 == 1):
                raise CddlError('%s: key %d: required keys are even, optional keys odd' % (where, m.key))
            for t in (m.type, m.type.elem):
                if t is not None and t.kind == 'ref':
                    if t.ref in cat.enums:
                        t.kind = 'enum'
                    elif t.ref in cat.maps and not cat.maps[t.ref].is_message:
                        t.kind = 'struct'
                    else:
                        raise CddlError('%s: unknown type %s' % (where, t.ref))
        if mp.is_message:
            if len(mp.members) < 2 or mp.members[1].key != 2 or mp.members[1].type.kind != 'uint' \
                    or mp.members[0].name != 'type' or mp.members[1].name != 'request-id':
                raise CddlError('%s: a message needs 0: type and 2: request-id' % where)
            if mp.type_id in ids:
                raise CddlError('%s: type %d already used by %s' % (where, mp.type_id, ids[mp.type_id]))
            ids[mp.type_id] = mp.name
    # structs must not refer to themselves (directly or not): depth stays bounded
    def depth(name, seen):
        if name in seen:
            raise CddlError('%s: %s is recursive' % (path, name))
        d = 0
        for m in cat.maps[name].members:
            for t in (m.type, m.type.elem):
                if t is not None and t.kind == 'struct':
                    d = max(d, depth(t.ref, seen | {name}))
        return d + 1
    for n in cat.maps:
        depth(n, set())
    if 'protocol-version' not in cat.constants:
        raise CddlError('%s: protocol-version is not defined' % path)
