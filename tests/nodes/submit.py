"""Stand-in cluster node (tests/test_storage.py): run one Snakemake jobscript in a fresh, empty folder.

Usage: submit.py STATE JOBSCRIPT. Makes STATE/N/ with an empty work/ folder, copies the jobscript
there (as a batch system does) and starts it in the background with work/ as its working directory
and nothing else of the submitting host's folders; prints the job id N. The job's exit status
goes to STATE/N/rc, its output to STATE/N/log. The job gets the workflow sources from the storage
(snakemake --job-deploy-sources) and every input file from the storage provider.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

state, jobscript = Path(sys.argv[1]), Path(sys.argv[2])
state.mkdir(parents=True, exist_ok=True)
n = 1 + max([int(p.name) for p in state.iterdir() if p.name.isdigit()], default=0)
job = state / str(n)
(job / "work").mkdir(parents=True)
shutil.copyfile(jobscript, job / "jobscript.sh")
with open(job / "log", "w") as log:
    subprocess.Popen(
        ["bash", "-c", f'bash {job / "jobscript.sh"}; echo $? > {job / "rc.tmp"}; mv {job / "rc.tmp"} {job / "rc"}'],
        cwd=job / "work", stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True, env=dict(os.environ),
    )
print(n)
