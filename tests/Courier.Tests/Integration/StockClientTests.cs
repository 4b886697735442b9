using System.Diagnostics;
using Courier.Tests.Infrastructure;
using NetMQ;
using NetMQ.Sockets;

namespace Courier.Tests.Integration;

/// <summary>Clients that know nothing of Courier: a plain REQ socket sends ["", body] and gets the echo.</summary>
public sealed class StockClientTests
{
    private const string Python = "/usr/bin/python3";

    [Fact]
    public async Task NetMQ_request_socket_gets_echo_replies()
    {
        await using var server = await TestServer.StartAsync();
        using var req = new RequestSocket();
        req.Connect(server.Endpoint!);

        for (var i = 0; i < 3; i++)
        {
            req.SendMoreFrame($"hello {i}").SendFrame("second frame");
            var reply = new List<string>();
            Assert.True(req.TryReceiveMultipartStrings(TimeSpan.FromSeconds(10), ref reply!));
            Assert.Equal([$"hello {i}", "second frame"], reply);
        }
    }

    [SkippableFact]
    public async Task Pyzmq_REQ_client_gets_echo_replies()
    {
        SkipUnlessPyzmq();
        await using var server = await TestServer.StartAsync();
        const string script = """
            import sys, zmq
            ctx = zmq.Context()
            s = ctx.socket(zmq.REQ)
            s.setsockopt(zmq.LINGER, 0)
            s.setsockopt(zmq.RCVTIMEO, 10000)
            s.connect(sys.argv[1])
            for i in range(3):
                s.send_string(f"py {i}")
                print(s.recv_string())
            """;

        var (exit, stdout, stderr) = await RunPythonAsync(script, server.Endpoint!);

        Assert.True(exit == 0, stderr);
        Assert.Equal(["py 0", "py 1", "py 2"], stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [SkippableFact]
    public async Task Pyzmq_7MDP_client_gets_echo_and_a_404_for_an_unknown_service()
    {
        SkipUnlessPyzmq();
        await using var server = await TestServer.StartAsync();
        const string script = """
            import sys, zmq
            ctx = zmq.Context()
            s = ctx.socket(zmq.DEALER)
            s.setsockopt(zmq.LINGER, 0)
            s.setsockopt(zmq.RCVTIMEO, 10000)
            s.connect(sys.argv[1])
            for service in [b"echo", b"nosuch"]:
                s.send_multipart([b"", b"MDPC01", service, b"ping"])
                print(b"|".join(s.recv_multipart()).decode())
            """;

        var (exit, stdout, stderr) = await RunPythonAsync(script, server.Endpoint!);

        Assert.True(exit == 0, stderr);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("|MDPC01|echo|ping", lines[0]);
        Assert.StartsWith("|MDPC01|nosuch|404|", lines[1], StringComparison.Ordinal);
    }

    internal static void SkipUnlessPyzmq()
    {
        var available = File.Exists(Python) && RunOk(Python, "-c", "import zmq");
        if (!available && Repo.IsCi)
        {
            Assert.Fail("pyzmq (Debian python3-zmq) is required in CI; .ci/run installs it.");
        }

        Skip.IfNot(available, "pyzmq is missing: apt-get install python3-zmq");
    }

    private static bool RunOk(string file, params string[] args)
    {
        using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        p.WaitForExit(30_000);
        return p.HasExited && p.ExitCode == 0;
    }

    internal static async Task<(int Exit, string Stdout, string Stderr)> RunPythonAsync(string script, params string[] args)
    {
        var info = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(script);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(cts.Token);
        return (process.ExitCode, await stdout, await stderr);
    }
}
