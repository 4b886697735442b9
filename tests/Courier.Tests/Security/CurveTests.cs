using Courier.Broker;
using Courier.Client;
using Courier.Protocol;
using Courier.Tests.Infrastructure;
using Courier.Transport;

namespace Courier.Tests.Security;

/// <summary>CURVE and ZAP on real sockets (native transport only: the managed one refuses security).</summary>
public sealed class CurveTests : IDisposable
{
    private static readonly TimeSpan Refused = TimeSpan.FromMilliseconds(700);
    private readonly Keys _keys = new Keys().Generate("alice", allow: true).Generate("mallory");

    public void Dispose() => _keys.Dispose();

    [Fact]
    public async Task Client_with_an_admitted_key_is_served_by_a_curve_server()
    {
        await using var server = await TestServer.StartAsync(o => o with { Security = _keys.Listener() });
        await using var client = TestServer.Client(server.Endpoint!, o => o with { Security = _keys.Connector("alice") });

        Assert.Equal("sealed", (await client.RequestAsync("echo", "sealed")).BodyText);
    }

    [Fact]
    public async Task Plaintext_courier_client_is_refused_by_a_curve_server_and_times_out()
    {
        await using var server = await TestServer.StartAsync(o => o with { Security = _keys.Listener() });
        await using var client = TestServer.Client(server.Endpoint!, o => o with { Timeout = Refused, Retries = 1 });

        await Assert.ThrowsAsync<CourierTimeoutException>(() => client.RequestAsync("echo", "in the clear"));
    }

    [SkippableFact]
    public async Task Plaintext_pyzmq_client_is_refused_by_a_curve_server()
    {
        Integration.StockClientTests.SkipUnlessPyzmq();
        await using var server = await TestServer.StartAsync(o => o with { Security = _keys.Listener() });

        var (exitCode, output) = await RunPythonAsync($"""
            import zmq
            s = zmq.Context.instance().socket(zmq.DEALER)
            s.linger = 0
            s.connect("{server.Endpoint}")
            s.send_multipart([b"", b"MDPC01", b"echo", b"in the clear"])
            print("answered" if s.poll(1500) else "refused")
            """);

        Assert.Equal((0, "refused"), (exitCode, output.Trim()));
    }

    [SkippableFact]
    public async Task Pyzmq_curve_client_with_pyzmq_written_keys_in_the_allow_list_is_served()
    {
        Integration.StockClientTests.SkipUnlessPyzmq();
        var pyDir = Path.Combine(_keys.Root, "py");
        Directory.CreateDirectory(pyDir);
        var (created, createdOut) = await RunPythonAsync($"""
            import zmq.auth
            zmq.auth.create_certificates("{pyDir}", "carol")
            """);
        Assert.True(created == 0, createdOut);
        // Courier reads what pyzmq wrote: the public file goes into the allow-list as is.
        File.Copy(Path.Combine(pyDir, "carol.key"), Path.Combine(_keys.AllowDirectory, "carol.key"));
        await using var server = await TestServer.StartAsync(o => o with { Security = _keys.Listener() });

        // pyzmq reads what Courier wrote: the server's public certificate.
        var (exitCode, output) = await RunPythonAsync($"""
            import zmq, zmq.auth
            pub, sec = zmq.auth.load_certificate("{pyDir}/carol.key_secret")
            server, _ = zmq.auth.load_certificate("{_keys.Public("server")}")
            s = zmq.Context.instance().socket(zmq.DEALER)
            s.linger = 0
            s.curve_publickey, s.curve_secretkey, s.curve_serverkey = pub, sec, server
            s.connect("{server.Endpoint}")
            s.send_multipart([b"", b"MDPC01", b"echo", b"sealed by pyzmq"])
            print(s.recv_multipart()[-1].decode() if s.poll(10000) else "no answer")
            """);

        Assert.Equal((0, "sealed by pyzmq"), (exitCode, output.Trim()));
    }

    [Fact]
    public async Task Client_with_the_wrong_server_key_times_out()
    {
        await using var server = await TestServer.StartAsync(o => o with { Security = _keys.Listener() });
        // alice believes mallory's key is the server's: the handshake cannot complete.
        await using var client = TestServer.Client(server.Endpoint!, o => o with { Security = _keys.Connector("alice", server: "mallory"), Timeout = Refused, Retries = 1 });

        await Assert.ThrowsAsync<CourierTimeoutException>(() => client.RequestAsync("echo", "x"));
    }

    [Fact]
    public async Task Client_not_in_the_allow_list_is_refused_counted_and_logged_while_an_admitted_one_is_served()
    {
        using var logs = new RecordingLoggerFactory();
        await using var server = await TestServer.StartAsync(o => o with { Security = _keys.Listener(), LoggerFactory = logs });
        await using var intruder = TestServer.Client(server.Endpoint!, o => o with { Security = _keys.Connector("mallory"), Timeout = Refused, Retries = 1 });
        await using var canary = TestServer.Client(server.Endpoint!, o => o with { Security = _keys.Connector("alice") });

        await Assert.ThrowsAsync<CourierTimeoutException>(() => intruder.RequestAsync("echo", "x"));

        Assert.Equal("still served", (await canary.RequestAsync("echo", "still served")).BodyText);
        var mallory = _keys.PublicKeyOf("mallory");
        Assert.Contains(logs.Entries, e => e.Message.Contains("refused a CURVE handshake", StringComparison.Ordinal) && e.Message.Contains(mallory, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Adding_and_removing_a_certificate_in_the_allow_list_takes_effect_without_a_restart()
    {
        await using var server = await TestServer.StartAsync(o => o with { Security = _keys.Listener() });

        _keys.Allow("mallory");
        await Poll.UntilAsync(async () => await ServedAsync(server.Endpoint!, "mallory"), TimeSpan.FromSeconds(30), "mallory admitted once allowed");

        _keys.Disallow("mallory");
        await Poll.UntilAsync(async () => !await ServedAsync(server.Endpoint!, "mallory"), TimeSpan.FromSeconds(30), "mallory refused once removed");
        Assert.True(await ServedAsync(server.Endpoint!, "alice"));
    }

    [Fact]
    public async Task Deleting_the_allow_list_directory_admits_no_one_until_it_is_back()
    {
        using var logs = new RecordingLoggerFactory();
        await using var server = await TestServer.StartAsync(o => o with { Security = _keys.Listener(), LoggerFactory = logs });
        Assert.True(await ServedAsync(server.Endpoint!, "alice"));

        Directory.Delete(_keys.AllowDirectory, recursive: true);
        // Both, not the refusal alone: a request that merely timed out on a loaded machine also reads as refused.
        static bool Unreadable(RecordingLoggerFactory.LogEntry e) => e.Message.Contains("allow-list unreadable", StringComparison.Ordinal);
        await Poll.UntilAsync(async () => !await ServedAsync(server.Endpoint!, "alice") && logs.Entries.Any(Unreadable), TimeSpan.FromSeconds(30), "alice refused once the allow-list is gone");
        Assert.Single(logs.Entries, Unreadable);

        Directory.CreateDirectory(_keys.AllowDirectory);
        _keys.Allow("alice");
        await Poll.UntilAsync(async () => await ServedAsync(server.Endpoint!, "alice"), TimeSpan.FromSeconds(30), "alice admitted once the allow-list is back");
    }

    [Fact]
    public async Task Client_and_worker_talk_through_a_curve_broker()
    {
        _keys.Generate("worker", allow: true);
        await using var broker = await TestBroker.StartAsync(o => o with { Security = _keys.Listener() });
        await using var worker = await TestBroker.StartWorkerAsync(broker.Endpoint!, "w", configure: o => o with { Security = _keys.Connector("worker") });
        await using var client = TestServer.Client(broker.Endpoint!, o => o with { Security = _keys.Connector("alice"), Timeout = TimeSpan.FromSeconds(20) });

        var reply = await client.RequestAsync("echo", "through the broker");

        Assert.Equal(["w", "through the broker"], reply.Frames.Select(f => System.Text.Encoding.UTF8.GetString(f.Span)));
    }

    [Fact]
    public async Task Plaintext_worker_never_registers_with_a_curve_broker()
    {
        _keys.Generate("worker", allow: true);
        using var logs = new RecordingLoggerFactory();
        await using var broker = await TestBroker.StartAsync(o => o with { Security = _keys.Listener() });
        await using var rogue = await TestBroker.StartWorkerAsync(broker.Endpoint!, "rogue", configure: o => o with { LoggerFactory = logs });
        await using var honest = await TestBroker.StartWorkerAsync(broker.Endpoint!, "honest", configure: o => o with { Security = _keys.Connector("worker") });
        await using var client = TestServer.Client(broker.Endpoint!, o => o with { Security = _keys.Connector("alice"), Timeout = TimeSpan.FromSeconds(20) });

        await TestBroker.WaitForWorkersAsync(client, "echo", 1);
        for (var i = 0; i < 20; i++)
        {
            var reply = await client.RequestAsync("echo", "secret");
            Assert.Equal("honest", System.Text.Encoding.UTF8.GetString(reply.Frames[0].Span));
        }

        Assert.Single(await TestBroker.WorkersAsync(client, "echo"));
    }

    [Fact]
    public async Task Security_settings_with_managed_transport_allowed_nowhere_reach_a_clear_error()
    {
        // The same refusal as on the managed test run, asked for explicitly here.
        var error = Assert.Throws<InvalidOperationException>(() => new CourierBroker(CourierBrokerOptions.Default with
        {
            Endpoint = "tcp://127.0.0.1:*",
            Security = _keys.Listener(),
            Transport = TransportOptions.Default with { Implementation = TransportImplementation.Managed },
        }));

        Assert.Contains("native transport", error.Message, StringComparison.Ordinal);
    }

    private async Task<bool> ServedAsync(string endpoint, string name)
    {
        await using var client = TestServer.Client(endpoint, o => o with { Security = _keys.Connector(name), Timeout = Refused, Retries = 0 });
        try
        {
            await client.RequestAsync("echo", "x");
            return true;
        }
        catch (CourierTimeoutException)
        {
            return false;
        }
    }

    internal static async Task<(int ExitCode, string Output)> RunPythonAsync(string script)
    {
        var (exitCode, stdout, stderr) = await ChildProcess.RunProgramAsync(TimeSpan.FromSeconds(60), "/usr/bin/python3", "-c", script);
        return (exitCode, stdout + stderr);
    }
}
