"""The embedded catalog: runs, model results, lineage; later stats, registry and audit."""
