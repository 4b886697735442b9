using Courier.Security;
using Courier.Security.Internal;

namespace Courier.Tests.Unit;

public sealed class SecurityFileTests
{
    private const string Public = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
    private const string Secret = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6";

    [Fact]
    public void Z85_matches_the_RFC_32_test_vector_both_ways()
    {
        byte[] data = [0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B];

        Assert.Equal("HelloWorld", Z85.Encode(data));
        Assert.Equal(data, Z85.TryDecode("HelloWorld", out _));
    }

    [Theory]
    [InlineData("Hello", null)]
    [InlineData("Hell", "multiple of 5")]
    [InlineData("Hell\"", "not a Z85 character")]
    [InlineData("%%%%%", "out of range")]
    public void Z85_decoding_refuses_what_is_not_Z85(string text, string? problem)
    {
        var data = Z85.TryDecode(text, out var why);

        Assert.Equal(problem is null, data is not null);
        if (problem is not null)
        {
            Assert.Contains(problem, why, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_czmq_secret_certificate_is_read_with_its_metadata()
    {
        var text = $"""
            #   ****  Generated on 2024-01-01 00:00:00 by czmq  ****
            #   ZeroMQ CURVE **Secret** Certificate

            metadata
                name = "alice"
                email = 'alice@example.com'
            curve
                public-key = "{Public}"
                secret-key = "{Secret}"
            """;

        var certificate = CertificateFile.Parse(text, "alice.key_secret");

        Assert.Equal((Public, Secret), (certificate.PublicKey, certificate.SecretKey));
        Assert.Equal("alice", certificate.Metadata["name"]);
        Assert.Equal("alice@example.com", certificate.Metadata["email"]);
    }

    [Fact]
    public void A_written_certificate_pair_reads_back_and_only_the_owner_can_read_the_secret()
    {
        var dir = Directory.CreateTempSubdirectory("courier-cert-");
        try
        {
            var pair = CurveCertificate.Generate(new Dictionary<string, string> { ["name"] = "svc" });
            pair.Save(Path.Combine(dir.FullName, "svc"));

            var secret = CurveCertificate.Load(Path.Combine(dir.FullName, "svc.key_secret"));
            var shared = CurveCertificate.Load(Path.Combine(dir.FullName, "svc.key"));

            Assert.Equal((pair.PublicKey, pair.SecretKey), (secret.PublicKey, secret.SecretKey));
            Assert.Equal((pair.PublicKey, (string?)null), (shared.PublicKey, shared.SecretKey));
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(dir.FullName, "svc.key_secret")));
            }
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void A_client_given_the_servers_secret_certificate_as_the_server_certificate_is_refused()
    {
        // It would connect (the public key is in the file), and hide that the server's secret went to its clients.
        var dir = Directory.CreateTempSubdirectory("courier-cert-");
        try
        {
            CurveCertificate.Generate().Save(Path.Combine(dir.FullName, "server"));
            CurveCertificate.Generate().Save(Path.Combine(dir.FullName, "client"));
            var options = new CourierSecurityOptions
            {
                CertificateFile = Path.Combine(dir.FullName, "client.key_secret"),
                ServerCertificateFile = Path.Combine(dir.FullName, "server.key_secret"),
            };

            var error = Assert.Throws<InvalidDataException>(() => ConnectorSecurity.Load(options));

            Assert.EndsWith("server.key_secret: a secret certificate: give the server's public one (NAME.key); its secret stays with the server", error.Message, StringComparison.Ordinal);
            Assert.NotNull(ConnectorSecurity.Load(options with { ServerCertificateFile = Path.Combine(dir.FullName, "server.key") }));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Theory]
    [InlineData("curve\n    public-key = \"short\"\n", "f.key:2: 'public-key' is not a 40-character Z85 CURVE key")]
    [InlineData("metadata\n    name\n", "f.key:2: expected a property, 'name = \"value\"'")]
    [InlineData("    public-key = \"x\"\n", "f.key:1: a property outside any section")]
    [InlineData("metadata\n    name = \"unterminated\n", "f.key:2: a quoted value has no closing quote")]
    [InlineData("metadata\n    name = \"x\"\n", "f.key: no 'public-key' in a 'curve' section")]
    [InlineData("curve\n    public-key = \"" + Public + "\"\n    public-key = \"" + Public + "\"\n", "f.key:3: a second 'public-key'")]
    [InlineData("metadata\n    secret-key = \"x\"\ncurve\n    public-key = \"" + Public + "\"\n", "f.key:2: 'secret-key' is a key's name, not metadata")]
    public void A_bad_certificate_file_is_refused_naming_the_file_and_line(string text, string expected)
    {
        var error = Assert.Throws<InvalidDataException>(() => CertificateFile.Parse(text, "f.key"));

        Assert.StartsWith(expected, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("curve\n    public-key = \"{0}\"\n    secret-key: \"{1}\"\n", "f.key_secret:3: expected a property")]
    [InlineData("curve\n    public-key = \"{0}\"\n    secret-key = \"{1}~\"\n", "f.key_secret:3: 'secret-key' is not a 40-character Z85 CURVE key")]
    [InlineData("curve\n    public-key = \"{0}\"\n    {1}\n", "f.key_secret:3: expected a property")]
    [InlineData("    {1} = \"x\"\n", "f.key_secret:1: a property outside any section")]
    public void A_malformed_secret_key_line_is_refused_by_its_line_number_without_quoting_the_key(string template, string expected)
    {
        var text = string.Format(System.Globalization.CultureInfo.InvariantCulture, template, Public, Secret);

        var error = Assert.Throws<InvalidDataException>(() => CertificateFile.Parse(text, "f.key_secret"));

        Assert.StartsWith(expected, error.Message, StringComparison.Ordinal);
        for (var i = 0; i + 4 <= Secret.Length; i++)
        {
            Assert.DoesNotContain(Secret.Substring(i, 4), error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Saving_over_a_pair_writes_a_new_secret_file_that_a_descriptor_open_on_the_old_one_cannot_read()
    {
        if (OperatingSystem.IsWindows())
        {
            return; // Unix file modes
        }

        var dir = Directory.CreateTempSubdirectory("courier-keys-");
        try
        {
            var basePath = Path.Combine(dir.FullName, "svc");
            var old = CurveCertificate.Generate();
            old.Save(basePath);
            File.SetUnixFileMode(basePath + ".key_secret", (UnixFileMode)0b110_100_100); // 0644, as a careless copy leaves it
            using var opened = new FileStream(basePath + ".key_secret", FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);

            var replacement = CurveCertificate.Generate();
            replacement.Save(basePath);

            using var reader = new StreamReader(opened);
            var seen = reader.ReadToEnd();
            Assert.Contains(old.SecretKey!, seen, StringComparison.Ordinal);
            Assert.DoesNotContain(replacement.SecretKey!, seen, StringComparison.Ordinal);
            Assert.Equal(replacement.SecretKey, CurveCertificate.Load(basePath + ".key_secret").SecretKey);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(basePath + ".key_secret"));
            Assert.Equal(["svc.key", "svc.key_secret"], dir.GetFiles().Select(f => f.Name).Order(StringComparer.Ordinal));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void Policy_grants_by_certificate_name_key_or_anyone_and_by_name_prefix_or_any_service()
    {
        var policy = ServicePolicy.Parse($$"""
            {
              "clients": { "alice": ["orders.*", "mmi.stats"], "{{Public}}": ["*"], "*": ["echo"] },
              "workers": { "orders-worker": ["orders.*"] }
            }
            """, "p.json");

        Assert.True(policy.MayCall("other-key", "alice", "orders.get"));
        Assert.False(policy.MayCall("other-key", "alice", "orders"));
        Assert.False(policy.MayCall("other-key", "alice", "mmi.workers"));
        Assert.True(policy.MayCall("other-key", null, "echo"));
        Assert.False(policy.MayCall("other-key", null, "orders.get"));
        Assert.True(policy.MayCall(Public, null, "anything"));
        Assert.True(policy.MayServe("k", "orders-worker", "orders.put"));
        Assert.False(policy.MayServe("k", "alice", "orders.put"));
    }

    [Fact]
    public void A_policy_may_name_a_key_holding_a_star_which_Z85_allows()
    {
        var starred = "rq:r*" + Public[5..];
        Assert.NotNull(Z85.TryDecode(starred, out _));

        var policy = ServicePolicy.Parse($$"""{ "clients": { "{{starred}}": ["echo"] } }""", "p.json");

        Assert.True(policy.MayCall(starred, null, "echo"));
    }

    [Theory]
    [InlineData("{ \"clients\": { \"a\": [\"echo\"] ", "p.json:1: not valid JSON")]
    [InlineData("{\n  \"client\": {}\n}", "p.json: client is not a section of a policy")]
    [InlineData("{ \"clients\": [] }", "p.json: clients must be an object")]
    [InlineData("{ \"workers\": { \"w\": \"echo\" } }", "p.json: workers.w must be an array of service patterns")]
    [InlineData("{ \"clients\": { \"a\": [\"echo\", 7] } }", "p.json: clients.a[1] '7' is not a service pattern")]
    [InlineData("{ \"clients\": { \"a\": [\"ord*\"] } }", "p.json: clients.a[0] 'ord*' is not a service pattern")]
    [InlineData("{ \"clients\": { \"web-*\": [\"echo\"] } }", "p.json: clients.web-* a peer is a certificate name, a Z85 public key or \"*\": '*' in a name is no wildcard")]
    public void A_bad_policy_is_refused_naming_the_file_and_the_line_or_field(string json, string expected)
    {
        var error = Assert.Throws<InvalidDataException>(() => ServicePolicy.Parse(json, "p.json"));

        Assert.StartsWith(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Security_settings_that_do_not_fit_the_role_are_refused_naming_the_setting()
    {
        var listener = Assert.Throws<ArgumentException>(() => new CourierSecurityOptions { CertificateFile = "s.key_secret", ServerCertificateFile = "x.key" }.Validate("CourierServerOptions", listens: true));
        var connector = Assert.Throws<ArgumentException>(() => new CourierSecurityOptions { CertificateFile = "c.key_secret" }.Validate("CourierClientOptions", listens: false));
        var half = Assert.Throws<ArgumentException>(() => new CourierSecurityOptions { AllowDirectory = "allow" }.Validate("CourierBrokerOptions", listens: true));

        Assert.StartsWith("CourierServerOptions.Security.ServerCertificateFile", listener.Message, StringComparison.Ordinal);
        Assert.StartsWith("CourierClientOptions.Security.ServerCertificateFile", connector.Message, StringComparison.Ordinal);
        Assert.StartsWith("CourierBrokerOptions.Security.CertificateFile", half.Message, StringComparison.Ordinal);
    }
}
