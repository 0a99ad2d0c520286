import Testing
@testable import OspreyServer

@Suite("Server configuration")
struct ServerConfigurationTests {
    @Test func defaults() throws {
        let config = try ServerConfiguration.resolve(flags: [:], environment: [:], file: [:])
        #expect(config.host == "127.0.0.1")
        #expect(config.port == 19530)
        #expect(config.dataDirectory == "./osprey-data")
        #expect(config.maxMessageBytes == 256 << 20)
        #expect(config.tls == nil)
    }

    @Test func flagBeatsEnvironmentBeatsFile() throws {
        let file: [SettingKey: String] = [.port: "1", .host: "0.0.0.0", .dataDir: "/file"]
        let env = ["OSPREY_PORT": "2", "OSPREY_HOST": "::1"]
        let config = try ServerConfiguration.resolve(flags: [.port: "3"], environment: env, file: file)
        #expect(config.port == 3)
        #expect(config.host == "::1")
        #expect(config.dataDirectory == "/file")
    }

    @Test func environmentVariableNames() {
        #expect(SettingKey.dataDir.environmentVariable == "OSPREY_DATA_DIR")
        #expect(SettingKey.tlsCA.environmentVariable == "OSPREY_TLS_CA")
        #expect(SettingKey.maxMessageMiB.environmentVariable == "OSPREY_MAX_MESSAGE_MIB")
    }

    @Test func configFileSyntax() throws {
        let text = """
            # Osprey settings
            host = 0.0.0.0
            PORT=19531   # trailing comment
            data_dir = "/var/lib/osprey data"

            max-message-mib = 512
            """
        let settings = try ServerConfiguration.parseConfigFile(text, path: "osprey.conf")
        #expect(settings == [.host: "0.0.0.0", .port: "19531", .dataDir: "/var/lib/osprey data",
                             .maxMessageMiB: "512"])
        let config = try ServerConfiguration.resolve(flags: [:], environment: [:], file: settings)
        #expect(config.maxMessageBytes == 512 << 20)
    }

    @Test func configFileErrorsNameTheLine() {
        #expect(throws: ConfigurationError("osprey.conf:2: unknown setting 'prot' (known: "
            + SettingKey.allCases.map(\.rawValue).joined(separator: ", ") + ")")) {
            try ServerConfiguration.parseConfigFile("host = ::\nprot = 1", path: "osprey.conf")
        }
        #expect(throws: ConfigurationError("osprey.conf:1: expected 'key = value', got 'port'")) {
            try ServerConfiguration.parseConfigFile("port", path: "osprey.conf")
        }
    }

    @Test func badValuesNameTheirSource() {
        #expect(throws: ConfigurationError("OSPREY_PORT must be an integer in 0...65535, got '70000'")) {
            try ServerConfiguration.resolve(flags: [:], environment: ["OSPREY_PORT": "70000"], file: [:])
        }
        #expect(throws: ConfigurationError("--log-level must be one of trace, debug, info, notice, warning, error, critical, got 'loud'")) {
            try ServerConfiguration.resolve(flags: [.logLevel: "loud"], environment: [:], file: [:])
        }
    }

    @Test func tlsNeedsCertificateAndKey() throws {
        #expect(throws: ConfigurationError("--tls-cert needs a private key too (--tls-key)")) {
            try ServerConfiguration.resolve(flags: [.tlsCert: "c.pem"], environment: [:], file: [:])
        }
        #expect(throws: ConfigurationError("--tls-ca (mutual TLS) needs --tls-cert and --tls-key")) {
            try ServerConfiguration.resolve(flags: [.tlsCA: "ca.pem"], environment: [:], file: [:])
        }
        let oneWay = try ServerConfiguration.resolve(
            flags: [.tlsCert: "c.pem", .tlsKey: "k.pem"], environment: [:], file: [:])
        #expect(oneWay.tls == TLSFiles(certificateChain: "c.pem", privateKey: "k.pem", clientCA: nil))
        let mutual = try ServerConfiguration.resolve(
            flags: [.tlsCert: "c.pem", .tlsKey: "k.pem"], environment: ["OSPREY_TLS_CA": "ca.pem"], file: [:])
        #expect(mutual.tls?.isMutual == true)
    }

    @Test func hostMustBeAnAddress() throws {
        #expect(try MilvusServer.validatedHost("localhost") == "127.0.0.1")
        #expect(try MilvusServer.validatedHost("::") == "::")
        #expect(try MilvusServer.validatedHost("[::1]") == "::1")
        #expect(throws: ConfigurationError.self) {
            try MilvusServer.validatedHost("db.example.com")
        }
    }

    @Test func missingTLSFilesAreReported() {
        let tls = TLSFiles(certificateChain: "/nonexistent/cert.pem", privateKey: "/nonexistent/key.pem")
        #expect(throws: ConfigurationError("--tls-cert file /nonexistent/cert.pem does not exist or is not readable")) {
            try MilvusServer.tlsContext(tls)
        }
    }
}
