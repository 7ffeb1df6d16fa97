import Dispatch
import Foundation
import H5Batch

enum SignalHandling {
    /// Turns the first SIGINT or SIGTERM into a stop request: the run finishes the batches in
    /// flight, saves a checkpoint and exits 130 or 143. A second one exits at once; the partial
    /// output then still holds the last checkpoint, so `--resume` continues from there.
    static func stopOnInterrupt(_ stop: StopRequest) -> [DispatchSourceSignal] {
        [SIGINT, SIGTERM].map { number in
            // Dispatch sees the signal only once its default action (ending the process) is off.
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                let name = number == SIGINT ? "SIGINT" : "SIGTERM"
                if stop.request(signal: number) {
                    log.notice("\(name): finishing the batches in flight and saving a checkpoint (send it again to stop at once)",
                               metadata: ["event": "stopping", "signal": .string(name)])
                } else {
                    log.notice("\(name) again: stopping now; --resume continues from the last checkpoint",
                               metadata: ["event": "stopping_now", "signal": .string(name)])
                    _exit(128 + number)
                }
            }
            source.resume()
            return source
        }
    }
}
