/// The h5batch version, shown by `h5batch --version`.
public enum H5BatchVersion {
    /// The version, e.g. `0.1.0`; checkpoints and provenance record it too.
    public static let string = "0.1.0"
}
