import Foundation

/// Mini-batch mode: streams batches through a fixed worker pool with bounded memory.
///
/// The loop runs on the I/O lane and is the only code that touches HDF5: it reads batch after
/// batch, hands each to an idle worker, and writes finished batches in row order. At most
/// `workers + 2` batches are alive at once (reading, computing, waiting to be written), so peak
/// memory follows the batch size, not the dataset size.
struct MiniBatchRunner {
    let input: Dataset
    let output: Dataset
    let chain: StageChain
    let plan: BatchPlan
    let workers: Int

    private enum Completion: Sendable {
        case done(batch: Int, worker: Int, input: FloatBuffer, output: FloatBuffer, seconds: Double)
    }

    func run(report: inout RunReport) throws {
        SystemInfo.setBLASThreads(1)
        let pool = WorkerPool(count: workers)
        let states = (0..<workers).map { _ in WorkerState() }
        let mailbox = Mailbox<Completion>()
        let buffers = BufferPool()
        let maxAlive = workers + 2
        let inputCapacity = plan.batchRows * chain.inputWidth
        let outputCapacity = plan.batchRows * chain.outputWidth

        var nextRead = 0, nextWrite = 0, alive = 0, computing = 0
        var toCompute: [(batch: Int, buffer: FloatBuffer)] = []
        var finished: [Int: FloatBuffer] = [:]
        var idle = Array((0..<workers).reversed())
        let chain = self.chain

        func absorb(_ completions: [Completion]) {
            for case .done(let batch, let worker, let input, let output, let seconds) in completions {
                computing -= 1
                idle.append(worker)
                if input !== output { buffers.give(input) }
                finished[batch] = output
                report.phases.compute += seconds
            }
        }

        func dispatchIdle() {
            while !toCompute.isEmpty, let worker = idle.popLast() {
                let (batch, input) = toCompute.removeFirst()
                let rows = plan.batch(batch).count
                let output = chain.runsInPlace ? input : buffers.take(outputCapacity)
                let state = states[worker]
                computing += 1
                pool.submit(to: worker) {
                    let start = now()
                    chain.run(input, rows: rows, into: output, workspace: &state.workspace)
                    mailbox.post(.done(batch: batch, worker: worker, input: input, output: output, seconds: now() - start))
                }
            }
        }

        do {
            while nextWrite < plan.count {
                absorb(mailbox.take(wait: false))
                while let buffer = finished.removeValue(forKey: nextWrite) {
                    let rows = plan.batch(nextWrite)
                    let start = now()
                    try output.write(rows: rows, from: UnsafeBufferPointer(buffer.prefix(rows.count * chain.outputWidth)))
                    report.phases.write += now() - start
                    buffers.give(buffer)
                    if nextWrite % 16 == 0 { report.peakThreads = max(report.peakThreads, SystemInfo.threadCount) }
                    nextWrite += 1
                    alive -= 1
                }
                if nextRead < plan.count && alive < maxAlive {
                    let rows = plan.batch(nextRead)
                    let buffer = buffers.take(inputCapacity)
                    let start = now()
                    try input.read(rows: rows, into: buffer.prefix(rows.count * chain.inputWidth))
                    report.phases.read += now() - start
                    toCompute.append((nextRead, buffer))
                    nextRead += 1
                    alive += 1
                    dispatchIdle()
                    continue
                }
                dispatchIdle()
                if nextWrite < plan.count && finished[nextWrite] == nil {
                    let start = now()
                    absorb(mailbox.take(wait: true))
                    report.phases.waiting += now() - start
                }
            }
        } catch {
            // Workers still hold buffers: let them finish before the buffers go away.
            while computing > 0 { absorb(mailbox.take(wait: true)) }
            throw error
        }
    }
}
