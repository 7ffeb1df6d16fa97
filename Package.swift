// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "h5batch",
    products: [
        .library(name: "H5Batch", targets: ["H5Batch"]),
        .executable(name: "h5batch", targets: ["h5batch"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CHDF5",
            pkgConfig: "hdf5",
            providers: [.apt(["libhdf5-dev"])]
        ),
        // oneDNN ships no pkg-config file; its headers and library are on the default paths.
        .systemLibrary(
            name: "CDNNL",
            providers: [.apt(["libdnnl-dev"])]
        ),
        .systemLibrary(
            name: "CDeflate",
            pkgConfig: "libdeflate",
            providers: [.apt(["libdeflate-dev"])]
        ),
        // The compressors of HDF5's common plugin filters (Sources/H5Batch/Codec).
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(name: "CBlosc", pkgConfig: "blosc", providers: [.apt(["libblosc-dev"])]),
        .systemLibrary(name: "CLZF", pkgConfig: "liblzf", providers: [.apt(["liblzf-dev"])]),
        // The hot loops in C, compiled for several x86-64 ISA levels and chosen at run time
        // (Sources/CKernels/kernels.inc).
        .target(
            name: "CKernels",
            exclude: ["kernels.inc"]
        ),
        .target(
            name: "H5Batch",
            dependencies: [
                "CHDF5",
                "CDNNL",
                "CDeflate",
                "CZstd",
                "CLZ4",
                "CBlosc",
                "CLZF",
                "CKernels",
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .executableTarget(
            name: "h5batch",
            dependencies: [
                "H5Batch",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "H5BatchTests",
            dependencies: ["H5Batch"],
            path: "Tests/H5BatchTests"
        ),
    ]
)
