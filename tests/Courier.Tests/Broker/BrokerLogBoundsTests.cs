using Courier.Broker.Internal;
using Courier.Protocol.Internal;
using Courier.Tests.Infrastructure;
using NetMQ;
using NetMQ.Sockets;

namespace Courier.Tests.Broker;

/// <summary>
/// What a worker connection makes the broker write to its log stays in proportion to what it sent, whatever it sends:
/// each test attacks with a raw worker connection while a canary client is served alongside.
/// </summary>
public sealed class BrokerLogBoundsTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_workers_error_text_reaches_the_brokers_log_on_one_line_cut_short_and_its_caller_whole()
    {
        // A worker's error reply is its own words (a typed service quotes a client's content-type in its 400, say): any
        // characters, any length. The broker logged them as they came, 10 lines a minute of up to 16 MiB each.
        using var log = new RecordingLoggerFactory();
        await using var broker = await TestBroker.StartAsync(o => o with { LoggerFactory = log });
        var words = "bad\r\u001b[2K\u202eforged line\n" + new string('a', 100_000);
        await using var worker = await TestBroker.StartWorkerAsync(broker.Endpoint!, "w1", service: "typed", handler: (_, _) => throw new Courier.Server.CourierServiceException(422, words));
        await using var client = TestServer.Client(broker.Endpoint!);

        var error = await Assert.ThrowsAsync<Courier.CourierRemoteException>(() => client.RequestAsync("typed", "x"));
        Assert.Equal(422, error.StatusCode);
        Assert.Contains(words, error.Message, StringComparison.Ordinal);

        await Poll.UntilAsync(() => log.Contains("Rejected a request for typed"), Wait, "the broker's line for the error");
        var line = log.Messages.Single(m => m.Contains("Rejected a request for typed", StringComparison.Ordinal));
        Assert.DoesNotContain(line, c => char.IsControl(c) || c == '\u202e');
        Assert.InRange(line.Length, 1, 400);
        Assert.Contains("bad??", line, StringComparison.Ordinal);
        Assert.Contains($"({System.Text.Encoding.UTF8.GetByteCount(words)} bytes)", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_worker_cycling_ready_and_disconnect_is_logged_at_a_bounded_rate_with_a_summary()
    {
        // Each registration and each departure was a line of its own: two lines per cycle, as fast as a peer can send.
        using var log = new RecordingLoggerFactory();
        await using var broker = await TestBroker.StartAsync(o => o with
        {
            LoggerFactory = log,
            Transport = o.Transport with { ViolationLogInterval = TimeSpan.FromSeconds(5) },
        });
        await using var canaryWorker = await Canary.StartWorkerAsync(broker.Endpoint!);
        await using var canary = await Canary.StartAsync(broker.Endpoint!, "canary");
        await using var observer = TestServer.Client(broker.Endpoint!);

        const int cycles = 500;
        using var churn = TestDealer.Connect(broker.Endpoint!);
        for (var i = 0; i < cycles; i++)
        {
            churn.SendMoreFrameEmpty().SendMoreFrame("MDPW01").SendMoreFrame([MdpWorker.Ready]).SendFrame("cycle");
            churn.SendMoreFrameEmpty().SendMoreFrame("MDPW01").SendFrame([MdpWorker.Disconnect]);
        }

        // One connection's messages are read in order: once this registration shows, every cycle before it was read.
        churn.SendMoreFrameEmpty().SendMoreFrame("MDPW01").SendMoreFrame([MdpWorker.Ready]).SendFrame("cycle-end");
        await Poll.UntilAsync(async () => (await TestBroker.StatsAsync(observer, "cycle-end")).Workers == 1, Wait, "the last registration read");

        // The attack takes well under one 5-second interval; two at most on a slow machine.
        var registrations = log.Messages.Count(m => m.Contains("ready for cycle", StringComparison.Ordinal));
        var departures = log.Messages.Count(m => m.Contains("of cycle ", StringComparison.Ordinal) && m.Contains("left", StringComparison.Ordinal));
        Assert.InRange(registrations, 1, 2 * WorkerRegistry.ChurnBurst);
        Assert.InRange(departures, 1, 2 * WorkerRegistry.ChurnBurst);
        await Poll.UntilAsync(() => log.Contains("worker registrations: ") && log.Contains("worker departures: "), Wait, "a summary of the lines not logged");
        await canary.AssertUnharmedAsync();
    }

    [Fact]
    public async Task An_unknown_worker_command_is_logged_by_its_first_bytes_not_whole()
    {
        // The command frame was hex-dumped whole into the warning: 1 MiB sent, a 2 MiB line (and 16 MiB, ~150 MiB allocated).
        using var log = new RecordingLoggerFactory();
        await using var broker = await TestBroker.StartAsync(o => o with { LoggerFactory = log });
        await using var canaryWorker = await Canary.StartWorkerAsync(broker.Endpoint!);
        await using var canary = await Canary.StartAsync(broker.Endpoint!, "canary");

        using var junk = TestDealer.Connect(broker.Endpoint!);
        var command = new byte[1024 * 1024];
        command.AsSpan().Fill(0xAB);
        junk.SendMoreFrameEmpty().SendMoreFrame("MDPW01").SendFrame(command);

        var frames = new List<byte[]>();
        Assert.True(junk.TryReceiveMultipartBytes(Wait, ref frames!), "no answer to the unknown command");
        Assert.Equal([MdpWorker.Disconnect], frames[2]);
        var line = log.Messages.Single(m => m.Contains("unknown worker command", StringComparison.Ordinal));
        Assert.Contains("0xABABABABABABABABABABABABABABABAB… (1048576 bytes)", line, StringComparison.Ordinal);
        Assert.True(line.Length < 300, $"a line of {line.Length} characters");
        await canary.AssertUnharmedAsync();
    }
}
