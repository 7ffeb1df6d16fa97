/// The h5batch version, shown by `h5batch --version`.
public enum H5BatchVersion {
    public static let string = "0.1.0"
}
