#!/usr/bin/env python3
"""Makes copies of the memory manager with the grant hooks the lead is asked
to add (docs/grants.md, "Changes needed outside the grant files").

Until hv/mm/pt.c calls mm_foreign_map_get/put itself, the grant tests link
these patched copies instead of the originals, so that they exercise the
real validation code. Every replacement must apply exactly once: if the
originals changed so that one no longer matches, this fails loudly (the
patch must then be redone, or the lead has applied it and CMake stops using
this script).

usage: patch_mm.py SRC_ROOT OUT_DIR
"""
import pathlib
import sys

HOOKS_DECL = '''bool mm_may_map_foreign(domid_t dom, mfn_t m, bool writable);
'''
HOOKS_NEW = '''bool mm_may_map_foreign(domid_t dom, mfn_t m, bool writable);

/*
 * A present L1 entry of a table owned by `dom` maps frame m, which dom does
 * not own. get: the entry has just been validated (mm_may_map_foreign said
 * yes and the frame references are taken); false refuses it (HV_ENOMEM, the
 * caller releases what it took). put: the entry is being dropped (overwritten,
 * or its table devalidated). Grants count their mappings with these.
 */
bool mm_foreign_map_get(domid_t dom, mfn_t m, bool writable);
void mm_foreign_map_put(domid_t dom, mfn_t m, bool writable);
'''

PATCHES = {
    'hv/include/mm_hooks.h': [(HOOKS_DECL, HOOKS_NEW)],
    'hv/include/pt.h': [
        ('/* Releases what pt_entry_get took for e (an entry of a level-`level` table). */\n'
         'void pt_entry_put(unsigned level, uint64_t e);',
         '/* Releases what pt_entry_get took for e (an entry of a level-`level` table\n'
         ' * owned by dom). */\n'
         'void pt_entry_put(domid_t dom, unsigned level, uint64_t e);'),
    ],
    'hv/include/mm_ops.h': [],
    'hv/mm/pt.c': [
        ('''        bool writable = (e & PTE_RW) != 0;
        if (f->owner != dom && !mm_may_map_foreign(dom, m, writable))
            return HV_EPERM;
        if (writable)
            return type_get_frame(f, FRAME_TYPE_WRITABLE);
        return frame_ref_get(f) ? HV_OK : HV_ENOMEM;
''', '''        bool writable = (e & PTE_RW) != 0;
        bool foreign = f->owner != dom;
        if (foreign && !mm_may_map_foreign(dom, m, writable))
            return HV_EPERM;
        int rc = writable ? type_get_frame(f, FRAME_TYPE_WRITABLE)
                          : (frame_ref_get(f) ? HV_OK : HV_ENOMEM);
        if (rc == HV_OK && foreign && !mm_foreign_map_get(dom, m, writable)) {
            if (writable)
                pt_type_put(m);
            else
                frame_ref_put(f);
            rc = HV_ENOMEM;
        }
        return rc;
'''),
        ('''void pt_entry_put(unsigned level, uint64_t e)
{''', '''void pt_entry_put(domid_t dom, unsigned level, uint64_t e)
{'''),
        ('''        mm_panic("pt_entry_put: validated entry outside the frame table");
''', '''        mm_panic("pt_entry_put: validated entry outside the frame table");
    if (level == 1 && f->owner != dom)
        mm_foreign_map_put(dom, m, (e & PTE_RW) != 0);
'''),
        ('''static void release_entries(const uint64_t *t, unsigned level, unsigned count)
{
    for (unsigned j = 0; j < count; j++)
        pt_entry_put(level, t[j]);''',
         '''static void release_entries(domid_t dom, const uint64_t *t, unsigned level,
                            unsigned count)
{
    for (unsigned j = 0; j < count; j++)
        pt_entry_put(dom, level, t[j]);'''),
        ('release_entries(t, level, table_limit(level));',
         'release_entries(f->owner, t, level, table_limit(level));'),
        ('release_entries(t, level, f->partial_index);',
         'release_entries(f->owner, t, level, f->partial_index);'),
        ('release_entries(t, f->type, f->partial_index);',
         'release_entries(f->owner, t, f->type, f->partial_index);'),
    ],
    'hv/mm/mm_ops.c': [
        ('pt_entry_put(tg.level, old);', 'pt_entry_put(d->id, tg.level, old);'),
    ],
}


def main():
    root = pathlib.Path(sys.argv[1])
    out = pathlib.Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    for rel, reps in PATCHES.items():
        text = (root / rel).read_text()
        for old, new in reps:
            n = text.count(old)
            if n != 1:
                sys.exit(f'patch_mm.py: {rel}: expected 1 match, found {n}:\n{old}')
            text = text.replace(old, new)
        dst = out / pathlib.Path(rel).name
        if not dst.exists() or dst.read_text() != text:
            dst.write_text(text)


if __name__ == '__main__':
    main()
