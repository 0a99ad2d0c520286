import ArgumentParser
#if OSPREY_WITH_SERVER
import Foundation
import Logging
import Osprey
import OspreyServer
#endif

/// `osprey serve`: runs the Milvus-protocol server.
///
/// Settings come from flags, then `OSPREY_*` environment variables, then the config file
/// (`--config` or `OSPREY_CONFIG`), then defaults; docs/server.md lists them. Once bound,
/// it prints `osprey: listening on HOST:PORT` on standard output (the real port when
/// `--port 0` asked for a free one); logs go to standard error.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Run the Osprey server (Milvus gRPC protocol).")

    @Option(help: "Address to bind: an IP address or localhost (default 127.0.0.1; OSPREY_HOST).")
    var host: String?

    @Option(help: "TCP port; 0 picks a free one and prints it (default 19530; OSPREY_PORT).")
    var port: String?

    @Option(help: "Directory for the database's files (default ./osprey-data; OSPREY_DATA_DIR).")
    var dataDir: String?

    @Option(help: "Config file of 'key = value' lines (OSPREY_CONFIG).")
    var config: String?

    @Option(help: "PEM certificate chain; turns TLS on (OSPREY_TLS_CERT).")
    var tlsCert: String?

    @Option(help: "PEM private key of the certificate (OSPREY_TLS_KEY).")
    var tlsKey: String?

    @Option(help: "PEM CA that client certificates must chain to; makes TLS mutual (OSPREY_TLS_CA).")
    var tlsCa: String?

    @Option(help: "Largest request accepted, in MiB (default 256; OSPREY_MAX_MESSAGE_MIB).")
    var maxMessageMib: String?

    @Option(help: "trace, debug, info, notice, warning, error or critical (default info; OSPREY_LOG_LEVEL).")
    var logLevel: String?

    @Option(help: "Seconds a shutdown waits for in-flight requests (default 30; OSPREY_SHUTDOWN_GRACE_SECONDS).")
    var shutdownGraceSeconds: String?

    func run() async throws {
        #if OSPREY_WITH_SERVER
        try await serve()
        #else
        throw ValidationError(
            "this osprey binary was built without the server (OSPREY_CORE_ONLY=1); build it without that setting to use `osprey serve`")
        #endif
    }
}

#if OSPREY_WITH_SERVER
extension ServeCommand {
    private var flags: [SettingKey: String] {
        let given: [(SettingKey, String?)] = [
            (.host, host), (.port, port), (.dataDir, dataDir), (.tlsCert, tlsCert), (.tlsKey, tlsKey),
            (.tlsCA, tlsCa), (.maxMessageMiB, maxMessageMib), (.logLevel, logLevel),
            (.shutdownGraceSeconds, shutdownGraceSeconds),
        ]
        return Dictionary(uniqueKeysWithValues: given.compactMap { key, value in value.map { (key, $0) } })
    }

    private func fail(_ message: String, code: Int32) -> ExitCode {
        FileHandle.standardError.write(Data("osprey serve: \(message)\n".utf8))
        return ExitCode(code)
    }

    private func serve() async throws {
        let settings: ServerConfiguration
        do {
            settings = try ServerConfiguration.load(flags: flags, configFile: config)
        } catch {
            throw fail(error.description, code: 2)
        }
        let level = Logger.Level(rawValue: settings.logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "osprey.server")

        let dataDirectory = URL(fileURLWithPath: settings.dataDirectory).standardizedFileURL.path
        do {
            try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        } catch {
            throw fail("cannot create data directory \(dataDirectory): \(error.localizedDescription)", code: 2)
        }
        logger.info("data directory", metadata: ["path": "\(dataDirectory)"])

        let database: Database
        do {
            database = try Database.open(at: dataDirectory)
        } catch {
            throw fail("cannot open the database in \(dataDirectory): \(error.description)", code: 1)
        }
        let pool = WorkerPool()
        logger.info("database open", metadata: ["workers": "\(pool.width)"])

        let server: MilvusServer
        do {
            server = try MilvusServer(
                configuration: settings,
                service: MilvusService(database: database, pool: pool, logger: logger),
                logger: logger)
        } catch {
            try? database.close()
            throw fail(error.description, code: 2)
        }

        let trap = SignalTrap(signals: [SIGTERM, SIGINT]) { signal, count in
            let name = signal == SIGTERM ? "SIGTERM" : "SIGINT"
            if count == 1 {
                logger.info("\(name): finishing in-flight requests, then stopping")
                server.beginGracefulShutdown()
            } else {
                logger.warning("\(name) again: exiting now")
                Foundation.exit(1)
            }
        }

        let tls = settings.tls.map { $0.isMutual ? "mutual TLS" : "TLS" } ?? "h2c (no TLS)"
        do {
            try await server.run { address in
                logger.info("listening", metadata: ["address": "\(address)", "transport": "\(tls)"])
                FileHandle.standardOutput.write(Data("osprey: listening on \(address)\n".utf8))
            }
        } catch {
            try? database.close()
            throw fail(error.description, code: 1)
        }
        withExtendedLifetime(trap) {}
        // The server returns once every in-flight request has finished; only then is the
        // database flushed and closed.
        do {
            try database.close()
        } catch {
            logger.error("closing the database failed", metadata: ["error": "\(error.description)"])
            throw fail("closing the database failed: \(error.description)", code: 1)
        }
        logger.info("stopped")
    }
}
#endif
