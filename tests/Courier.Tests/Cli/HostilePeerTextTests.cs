using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Courier.Cli.Top;
using Courier.Extensions.Hosting;
using Courier.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using NetMQ;

namespace Courier.Tests.Cli;

/// <summary>
/// What a peer says, shown to a person or a log by the health checks and the CLI: a hostile peer (a fake broker on
/// pyzmq) answers with terminal escape sequences, a bidi override, line breaks and 1 MB of text. Each shows it on one
/// line, cut short, with what would not print as itself as <c>?</c>.
/// </summary>
public sealed class HostilePeerTextTests
{
    private const int AnswerBytes = 1024 * 1024;

    [Fact]
    public async Task Courier_health_quotes_a_hostile_answer_on_one_printable_line_cut_short()
    {
        await using var liar = ChildProcess.StartPython("mmi_liar.py", "tcp://127.0.0.1:*", $"{AnswerBytes}", "1");
        var endpoint = await liar.WaitForEndpointAsync();

        var (exit, _, stderr) = await ChildProcess.RunAsync(TimeSpan.FromSeconds(60), "health", "--connect", endpoint, "--service", "echo", "--timeout", "10s");

        Assert.Equal(1, exit);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("mmi.service answered ?[2J?]0;owned???", line, StringComparison.Ordinal);
        AssertPrintable(line);
        Assert.InRange(Encoding.UTF8.GetByteCount(line), 100, Courier.Cli.Cli.ErrorLineBytes + 100);
        Assert.EndsWith(" bytes)", line, StringComparison.Ordinal); // the whole message's size, which was cut
    }

    [Fact]
    public async Task A_workers_health_check_quotes_a_hostile_brokers_answer_printable_and_cut_short()
    {
        await using var liar = ChildProcess.StartPython("mmi_liar.py", "tcp://127.0.0.1:*", $"{AnswerBytes}", "1");
        var endpoint = await liar.WaitForEndpointAsync();
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Courier:Worker:BrokerEndpoint"] = endpoint });
        builder.Services.AddCourierWorker().Map("echo", (request, _) => ValueTask.FromResult(request.Frames));
        builder.Services.AddHealthChecks().AddCourierWorkerCheck();
        using var host = builder.Build();
        await host.StartAsync();
        try
        {
            var entry = (await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync()).Entries["courier-worker"];

            Assert.Equal(HealthStatus.Unhealthy, entry.Status);
            Assert.Contains("mmi.service answered ?[2J?]0;owned???", entry.Description, StringComparison.Ordinal);
            AssertPrintable(entry.Description!);
            Assert.InRange(entry.Description!.Length, 100, 1024);
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Fact]
    public async Task A_client_health_check_quotes_a_hostile_servers_error_printable_and_attaches_no_raw_exception()
    {
        // The health service logs a result's exception at Error: a remote error's message is the peer's text as it came.
        using var server = RawServer.Bind(out var endpoint);
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddCourierClient(o => o with { Endpoints = [endpoint], Timeout = TimeSpan.FromSeconds(10), Retries = 0 });
        builder.Services.AddHealthChecks().AddCourierClientCheck("stock");
        using var host = builder.Build();
        await host.StartAsync();
        try
        {
            var check = host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
            var probe = RawServer.Next(server, RawServer.IsProtocolProbe, "a protocol probe", TimeSpan.FromSeconds(30))!;
            RawServer.AnswerProbe(server, probe[0], "courier/3");
            var request = RawServer.Next(server, f => f.Count == 4 && f[2].AsSpan().StartsWith("CURC02"u8), "the mmi.service request", TimeSpan.FromSeconds(30))!;
            var header = new byte[Courier.Protocol.Internal.CourierFrame.ReplyLength];
            Courier.Protocol.Internal.CourierFrame.WriteReply(header, System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(request[2].AsSpan(6, 8)), 500);
            server.SendMultipartBytes(request[0], [], header, Encoding.UTF8.GetBytes("\u001b[2J\u202eowned\n" + new string('x', AnswerBytes)));

            var entry = (await check).Entries["courier-client"];
            Assert.Equal(HealthStatus.Unhealthy, entry.Status);
            Assert.Null(entry.Exception);
            Assert.Contains("?[2J?owned?", entry.Description, StringComparison.Ordinal);
            AssertPrintable(entry.Description!);
            Assert.InRange(entry.Description!.Length, 100, 1024);
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Fact]
    public void Top_draws_a_hostile_brokers_names_printable_and_at_most_its_rows_of_20000_services()
    {
        const int services = 20_000;
        var names = Enumerable.Range(0, services).Select(i => $"\u001b[2J\u001b]0;owned\u0007svc{i}").ToList();
        var stats = JsonSerializer.SerializeToUtf8Bytes(names.ToDictionary(n => n, _ => new { workers = 1, queued = 0, served = 1 }));
        var worker = new { id = "w1", name = "\u001b[31mred\u202eworker", capacity = 1, outstanding = 0, served = 1 };
        var workers = JsonSerializer.SerializeToUtf8Bytes(names.ToDictionary(n => n, _ => new[] { worker }));

        // One worker listed under every service: its row is made once, not copied again for each listing.
        var snapshot = TopSnapshot.Parse(Stopwatch.GetTimestamp(), stats, workers);
        Assert.Equal(services, Assert.Single(snapshot.Workers).Services.Count);

        var output = new StringWriter();
        var screen = new TopScreen("tcp://liar:5555", output, ansi: false);
        screen.Draw(snapshot);
        screen.Draw(snapshot); // the second frame's rates compare each service with the first's

        var lines = output.ToString().Split('\n');
        AssertPrintable(output.ToString().Replace("\n", "", StringComparison.Ordinal));
        Assert.InRange(lines.Length, 2 * TopScreen.MaxRows, 2 * ((TopScreen.MaxRows * 2) + 12));
        Assert.Contains(lines, l => l.Contains($"… and {services - TopScreen.MaxRows} more services", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("?[31mred?worker", StringComparison.Ordinal) && l.Contains($"({services} services)", StringComparison.Ordinal));
    }

    [Fact]
    public void Bench_prints_a_hostile_servers_error_text_printable_and_cut_short()
    {
        var errors = new Courier.Cli.Bench.BenchErrors();
        errors.Add(new Courier.CourierRemoteException("echo", 500, "\u001b]0;owned\u0007\u202e" + new string('x', AnswerBytes)));
        errors.Add(new Courier.CourierRemoteException("echo", 500, "second"));

        var described = errors.Describe();
        AssertPrintable(described);
        Assert.StartsWith("2 answered 500 (\"?]0;owned??x", described, StringComparison.Ordinal);
        Assert.InRange(described.Length, 100, 1024);
    }

    /// <summary>Nothing that a terminal or a log reader would take for anything but text: no controls, no format characters.</summary>
    private static void AssertPrintable(string text)
    {
        foreach (var rune in text.EnumerateRunes())
        {
            var category = Rune.GetUnicodeCategory(rune);
            Assert.False(
                category is System.Globalization.UnicodeCategory.Control or System.Globalization.UnicodeCategory.Format
                    or System.Globalization.UnicodeCategory.LineSeparator or System.Globalization.UnicodeCategory.ParagraphSeparator,
                $"U+{rune.Value:X4} in: {text[..Math.Min(text.Length, 200)]}");
        }
    }
}
