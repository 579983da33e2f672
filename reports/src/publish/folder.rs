//! A local (or mounted network) folder as a destination.

use std::path::{Path, PathBuf};

use super::{Destination, PublishError, Sent, UploadFile, check_remote_name, temp_name};

/// Copies files into a folder: each is written under its temporary name
/// ([`temp_name`](super::temp_name)), flushed to disk, then renamed, so a reader of the folder
/// never sees a partial file under its final name. Sub-folders in the remote names are
/// created.
///
/// ```
/// use reports::publish::{Destination, Folder, UploadFile};
/// let src = tempfile::tempdir().unwrap();
/// let dst = tempfile::tempdir().unwrap();
/// let local = src.path().join("e.csv");
/// std::fs::write(&local, "a;b\n").unwrap();
/// let mut f = Folder::new(dst.path());
/// let sent = f.send(&[UploadFile { local, remote_name: "2026/e.csv".into() }]).unwrap();
/// assert_eq!(sent[0].bytes, 4);
/// assert_eq!(std::fs::read_to_string(dst.path().join("2026/e.csv")).unwrap(), "a;b\n");
/// ```
#[derive(Debug, Clone)]
pub struct Folder {
    dir: PathBuf,
}

impl Folder {
    /// A destination writing into `dir` (created when missing).
    pub fn new(dir: impl AsRef<Path>) -> Self {
        Self {
            dir: dir.as_ref().to_path_buf(),
        }
    }

    fn copy_one(&self, f: &UploadFile) -> Result<Sent, PublishError> {
        check_remote_name(&f.remote_name)?;
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| PublishError::Io { path, source }
        };
        let fin = self.dir.join(&f.remote_name);
        let tmp = self.dir.join(temp_name(&f.remote_name));
        if let Some(parent) = fin.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        let mut src = std::fs::File::open(&f.local).map_err(io(&f.local))?;
        let mut out = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        let bytes = std::io::copy(&mut src, &mut out).map_err(io(&tmp))?;
        out.sync_all().map_err(io(&tmp))?;
        drop(out);
        std::fs::rename(&tmp, &fin).map_err(io(&fin))?;
        Ok(Sent {
            file: f.remote_name.clone(),
            bytes,
            skipped_unchanged: false,
        })
    }
}

impl Destination for Folder {
    fn describe(&self) -> String {
        format!("file://{}", self.dir.display())
    }

    fn send(&mut self, files: &[UploadFile]) -> Result<Vec<Sent>, PublishError> {
        files.iter().map(|f| self.copy_one(f)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_copied_renamed_and_no_temporary_file_stays() {
        let src = tempfile::tempdir().unwrap();
        let dst = tempfile::tempdir().unwrap();
        let a = src.path().join("a.csv");
        std::fs::write(&a, "1234567").unwrap();
        let mut f = Folder::new(dst.path().join("out"));
        let files = [
            UploadFile {
                local: a.clone(),
                remote_name: "a.csv".into(),
            },
            UploadFile {
                local: a.clone(),
                remote_name: "x/b.csv".into(),
            },
        ];
        let sent = f.send(&files).unwrap();
        assert_eq!(sent.iter().map(|s| s.bytes).sum::<u64>(), 14);
        // Sending again replaces (idempotent).
        f.send(&files).unwrap();
        let mut names: Vec<String> = walk(&dst.path().join("out"));
        names.sort();
        assert_eq!(names, ["a.csv", "x/b.csv"]);
    }

    #[test]
    fn a_missing_local_file_or_a_bad_name_is_a_typed_error() {
        let dst = tempfile::tempdir().unwrap();
        let mut f = Folder::new(dst.path());
        let missing = dst.path().join("nope.csv");
        match f.send(&[UploadFile {
            local: missing.clone(),
            remote_name: "n.csv".into(),
        }]) {
            Err(PublishError::Io { path, .. }) => assert_eq!(path, missing),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            f.send(&[UploadFile {
                local: missing,
                remote_name: "../n.csv".into()
            }]),
            Err(PublishError::Config { .. })
        ));
    }

    fn walk(dir: &Path) -> Vec<String> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            if p.is_dir() {
                out.extend(walk(&p).into_iter().map(|n| format!("{name}/{n}")));
            } else {
                out.push(name);
            }
        }
        out
    }
}
