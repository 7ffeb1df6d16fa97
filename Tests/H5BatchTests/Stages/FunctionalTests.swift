import Foundation
import Testing
@testable import H5Batch

@Suite("Stages as functions and objects")
struct FunctionalTests {
    let specials: [Float] = [.nan, .infinity, -.infinity, 0, -0.0, 1e-30, -1e-30, -1e-8, 2.5, -2.5, 3e38, -3e38]

    @Test func reluKeepsNaNAndZeroesNegatives() {
        let y = Functional.relu(specials)
        #expect(y[0].isNaN)
        #expect(y[1] == .infinity)
        #expect(y[2] == 0)
        #expect(y[6] == 0 && y[7] == 0 && y[9] == 0 && y[11] == 0)
        #expect(y[8] == 2.5 && y[10] == 3e38)
    }

    @Test func leakyReLUFollowsPyTorch() {
        let y = Functional.leakyReLU(specials, negativeSlope: 0.1)
        #expect(y[0].isNaN)
        #expect(y[2] == -.infinity)
        #expect(y[9] == -0.25)
        // PyTorch computes x * slope for x <= 0, so -inf * 0 is NaN.
        #expect(Functional.leakyReLU([-.infinity], negativeSlope: 0)[0].isNaN)
    }

    @Test func preluPerFeatureAndShared() {
        let x: [Float] = [-1, -2, 3, -4, -1, -2, 3, -4]
        #expect(Functional.prelu(x, weight: [0.5, 0.25, 2, 0.1], width: 4) == [-0.5, -0.5, 3, -0.4, -0.5, -0.5, 3, -0.4])
        #expect(Functional.prelu(x, weight: [0.5], width: 4) == [-0.5, -1, 3, -2, -0.5, -1, 3, -2])
        #expect(throws: H5BatchError.self) { try PReLU(weight: [1, 2, 3]).outputWidth(forInputWidth: 4) }
    }

    @Test func eluUsesAccurateExpm1() {
        let y = Functional.elu([-.infinity, .nan, -1e-8, -1, 1, -100], alpha: 0.5)
        #expect(y[0] == -0.5)
        #expect(y[1].isNaN)
        #expect(abs(y[2] - (-0.5e-8)) < 1e-15)  // exp(x) - 1 in float would give 0 here
        #expect(abs(y[3] - 0.5 * Float(Foundation.expm1(-1.0))) < 1e-7)
        #expect(y[4] == 1)
        #expect(y[5] == -0.5)
    }

    @Test("expm1 is within 2 ulp of libm over the range ELU uses")
    func expm1Accuracy() {
        var worst: Float = 0
        var x: Float = -90
        while x < 10 {
            let exact = Float(Foundation.expm1(Double(x)))
            let got = Functional.expm1(x)
            let ulps = abs(got - exact) / max(exact.ulp, Float.leastNormalMagnitude)
            worst = max(worst, ulps)
            x += 0.0137
        }
        for tiny: Float in [-1e-7, -1e-20, 1e-10, -0.3465, 0.3466, -0.6931] {
            let exact = Float(Foundation.expm1(Double(tiny)))
            worst = max(worst, abs(Functional.expm1(tiny) - exact) / exact.ulp)
        }
        #expect(worst <= 2, "worst error \(worst) ulp")
        #expect(Functional.expm1(.nan).isNaN)
        #expect(Functional.expm1(-.infinity) == -1)
    }

    @Test func linearBothLayoutsWithAndWithoutBias() {
        // x: 2 rows of 3; W (torch) 2x3.
        let x: [Float] = [1, 2, 3, -1, 0, 1]
        let w: [Float] = [1, 0, -1, 0.5, 0.5, 0.5]
        let torch = Linear(weight: w, bias: [10, 20], inFeatures: 3, outFeatures: 2)
        #expect(Functional.linear(x, rows: 2, torch) == [8, 23, 8, 20])
        let keras = Linear(weight: [1, 0.5, 0, 0.5, -1, 0.5], bias: nil, inFeatures: 3, outFeatures: 2, layout: .keras)
        #expect(Functional.linear(x, rows: 2, keras) == [-2, 3, -2, 0])
        #expect(throws: H5BatchError.self) { try torch.outputWidth(forInputWidth: 4) }
    }

    @Test("a chain fuses activations into the linear stage and matches running them one by one")
    func chainMatchesStepByStep() throws {
        let rows = 1000, width = 5
        let x = (0..<(rows * width)).map { Float(sin(Double($0) * 0.37)) * 3 }
        let fc1 = Linear(weight: (0..<(7 * width)).map { Float(cos(Double($0))) }, bias: (0..<7).map { Float($0) * 0.1 },
                         inFeatures: width, outFeatures: 7)
        let fc2 = Linear(weight: (0..<(7 * 3)).map { Float(sin(Double($0) * 1.3)) }, bias: nil, inFeatures: 7, outFeatures: 3)
        let stages: [any Stage] = [LeakyReLU(negativeSlope: 0.2), fc1, ReLU(), PReLU(weight: (0..<7).map { Float($0) / 10 }),
                                   fc2, ELU(alpha: 0.7)]
        let chain = try StageChain(stages, inputWidth: width)
        #expect(chain.widths == [5, 5, 7, 7, 7, 3, 3])
        #expect(chain.steps.count == 3)
        var expected = LeakyReLU(negativeSlope: 0.2)(x, width: width)
        expected = Functional.linear(expected, rows: rows, fc1)
        expected = ReLU()(expected, width: 7)
        expected = PReLU(weight: (0..<7).map { Float($0) / 10 })(expected, width: 7)
        expected = Functional.linear(expected, rows: rows, fc2)
        expected = ELU(alpha: 0.7)(expected, width: 3)
        let actual = chain(x, rows: rows)
        #expect(mismatch(actual, expected, rtol: 1e-6, atol: 1e-6) == nil)
        #expect(chain.linearFlopsPerRow == 2 * (5 * 7 + 7 * 3))
    }

    @Test func chainRejectsWidthsThatDoNotFit() {
        let fc = Linear(weight: [Float](repeating: 1, count: 6), bias: nil, inFeatures: 3, outFeatures: 2)
        #expect(throws: H5BatchError(.data, "stage 2 (linear): linear expects rows of 3 features but gets 4")) {
            try StageChain([ReLU(), fc], inputWidth: 4)
        }
    }

    @Test("softmax over a vocabulary-wide row (50,257 values, one dominant logit) stays within 5e-6 of a double computation (a float32 running sum drifted by 1e-4)")
    func wideSoftmax() {
        let width = 50_257
        var logits = (0..<width).map { Float(sin(Double($0) * 0.37)) * 2 - 4 }
        logits[0] = 11.5
        let result = Functional.softmax(logits, width: width)
        let largest = Double(logits.max()!)
        let exps = logits.map { Foundation.exp(Double($0) - largest) }
        let sum = exps.reduce(0, +)
        var worst = 0.0
        for j in 0..<width {
            let expected = exps[j] / sum
            worst = max(worst, abs(Double(result[j]) - expected) / expected)
        }
        #expect(worst < 5e-6, "worst relative error \(worst)")
    }
}
