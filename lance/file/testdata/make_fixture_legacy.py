# Regenerates testdata/pylance_legacy.lance: the one data file of a dataset
# pylance 14 writes at data_storage_version="legacy" (0.1, the Lance v1 file
# format, whose footer says 0.2). Used by TestLegacyFileRefused.
import glob, shutil, tempfile
import pyarrow as pa
import lance

with tempfile.TemporaryDirectory() as d:
    t = pa.table({"id": pa.array(range(10), pa.int64()), "s": pa.array([f"v{i}" for i in range(10)])})
    lance.write_dataset(t, d + "/ds.lance", data_storage_version="legacy")
    [data] = glob.glob(d + "/ds.lance/data/*.lance")
    shutil.copy(data, "testdata/pylance_legacy.lance")
