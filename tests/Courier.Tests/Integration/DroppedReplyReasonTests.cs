using Courier.Server;
using Courier.Tests.Infrastructure;
using Courier.Transport;
using Microsoft.Extensions.Logging;
using NetMQ;
using NetMQ.Sockets;

namespace Courier.Tests.Integration;

/// <summary>
/// A reply the transport refuses is logged by why: a client that is there and never reads (its queue at the high-water
/// mark) is a Warning an operator should see, one that left before its reply is routine (Information). Before, both were
/// one Information line that could not tell them apart, so a client filling its queue went unseen at the default level.
/// </summary>
public sealed class DroppedReplyReasonTests
{
    private const string QueueFull = "messages queued that it has not read";
    private const string Gone = "its client is gone";

    [SkippableFact]
    public async Task A_client_that_never_reads_small_replies_is_warned_about_at_the_high_water_mark_and_the_server_keeps_serving()
    {
        var logs = new RecordingLoggerFactory();
        // Replies under 1 KiB are not counted against MaxPendingBytesPerPeer: only the high-water mark bounds them.
        var transport = TransportOptions.Default with { SendHighWatermark = 100 };
        await using var server = await TestServer.StartAsync(o => o with { LoggerFactory = logs, Transport = transport });
        await using var canary = await Canary.StartAsync(server.Endpoint!);

        // A raw ZMTP peer (the test writes its bytes): a NetMQ socket here would share the test process's one NetMQ I/O
        // thread with the server under test (on the managed transport) and with every other test running meanwhile.
        using (var attacker = await RawZmtp.GreetedAsync(Ports.Of(server.Endpoint!)))
        {
            attacker.Client.ReceiveBufferSize = 16 * 1024;
            using var stop = new CancellationTokenSource();
            var stream = attacker.GetStream();
            // 512-byte echoes until refusals show: the kernel's socket buffers (a few MiB on loopback) fill first, then
            // the server's queue for this client. Up to 200,000 of them (100 MB); a write waits while the server does
            // not read, and a loaded machine's server reads them later.
            var sent = 0;
            var writing = Task.Run(async () =>
            {
                var body = new byte[512];
                var batch = new MemoryStream();
                while (sent < 200_000)
                {
                    batch.SetLength(0);
                    for (var i = 0; i < 1_000; i++)
                    {
                        WriteRequest(batch, (ulong)++sent, "echo", body);
                    }

                    await stream.WriteAsync(batch.GetBuffer().AsMemory(0, (int)batch.Length), stop.Token);
                }
            });
            try
            {
                await Poll.UntilAsync(() => logs.Contains(QueueFull), TimeSpan.FromSeconds(90), "a reply refused at the client's high-water mark");
            }
            catch (TimeoutException)
            {
                // Seen once in a full run of each transport, never alone, with the server logging nothing and one request
                // in flight: say whether the server froze (the canary stuck, the pool fine) or the whole process starved
                // (the pool's queue growing, its completions flat).
                var inFlight = server.InFlight;
                var answered = canary.Answered;
                var completed = ThreadPool.CompletedWorkItemCount;
                // Whether the server's side holds bytes it has not read (its transport stopped reading this peer) or the
                // attacker's holds replies (the server wrote them, and would have queued the next ones).
                var serverPort = Ports.Of(server.Endpoint!);
                var attackerPort = ((System.Net.IPEndPoint)attacker.Client.LocalEndPoint!).Port;
                var queues = Ports.QueuesBetween(serverPort, attackerPort);
                await Task.Delay(TimeSpan.FromSeconds(1));
                var queuesLater = Ports.QueuesBetween(serverPort, attackerPort);
                var failure = $"no refusal at the high-water mark after {Volatile.Read(ref sent)} requests written ({writing.Status}); "
                    + $"in flight {inFlight}, then {server.InFlight} a second later; the canary answered {answered}, then {canary.Answered}, "
                    + $"with {canary.ErrorCount} errors; the thread pool {ThreadPool.ThreadCount} threads, {ThreadPool.PendingWorkItemCount} items "
                    + $"pending, {ThreadPool.CompletedWorkItemCount - completed} completed in that second; the kernel's queues: "
                    + $"{string.Join("; ", queues)}, then {string.Join("; ", queuesLater)}; the server logged:\n"
                    + string.Join('\n', logs.Entries.Take(30).Select(e => $"{e.Level}: {e.Message}"));

                // NetMQ 4.0.4.5 (the managed transport), only under a full run's load: the server's transport stops reading
                // this one peer, whose requests then wait unread in the kernel, while Courier's loop, reading the ROUTER as
                // a whole, has nothing of it in flight and serves the canary on. Not a Courier fault, nor one that harms
                // another client (checked first); what this test is for cannot then be reached (docs/guide.md, limits: replies queued per client).
                // Seen too (2026-12-08, CI of 1d7bfe0): the requests waiting in the attacker's send queue, the server's receive
                // queue empty, and nothing moving in a second: they never reach the server's transport either.
                var serverSide = queues.Where(q => q.Local == serverPort).ToList();
                var attackerSide = queues.Where(q => q.Local == attackerPort).ToList();
                var unread = serverSide is [{ Receive: > 0 } before] && queuesLater.Contains(before)
                    || (serverSide is [{ Receive: 0 }] && attackerSide is [{ Send: > 0 } waiting] && queuesLater.Contains(waiting));
                var stalled = TestTransport.IsManaged && inFlight == 0 && server.InFlight == 0 && unread;
                if (stalled)
                {
                    await canary.AssertUnharmedAsync();
                    Skip.If(true, "the managed transport stopped reading the attacker's connection (NetMQ): " + failure);
                }

                Assert.Fail(failure);
            }
            finally
            {
                await stop.CancelAsync();
                // Cancelled mid-write, failed, or done: either way the attacker writes nothing more.
                await writing.ContinueWith(_ => { }, TaskScheduler.Default).WaitAsync(TimeSpan.FromSeconds(30));
            }

            var warnings = logs.Entries.Where(e => e.Message.Contains(QueueFull, StringComparison.Ordinal)).ToList();
            Assert.NotEmpty(warnings);
            Assert.All(warnings, e => Assert.Equal(LogLevel.Warning, e.Level));
            Assert.Contains("for echo dropped: its client has 100 messages", warnings[0].Message, StringComparison.Ordinal);
            Assert.DoesNotContain(logs.Entries, e => e.Message.Contains(Gone, StringComparison.Ordinal));
        }

        await canary.AssertUnharmedAsync();
    }

    [Fact]
    public async Task A_reply_to_a_client_that_left_before_it_is_logged_as_routine_not_as_a_warning()
    {
        var logs = new RecordingLoggerFactory();
        using var handlerStarted = new SemaphoreSlim(0);
        using var release = new SemaphoreSlim(0);
        await using var server = await TestServer.StartAsync(
            o => o with { LoggerFactory = logs },
            s => s.Map("held", async (request, cancellationToken) =>
            {
                handlerStarted.Release();
                await release.WaitAsync(cancellationToken);
                return CourierBody.Text("late");
            }));

        // Nothing outside the transport says when the server has seen the connection close, and a reply sent before
        // that is queued for the closing connection, not refused: each try waits longer before answering.
        for (var attempt = 0; attempt < 5 && !logs.Contains(Gone); attempt++)
        {
            using (var client = RawCourier2.NonReader(server.Endpoint!))
            {
                SendRequest(client, (ulong)attempt + 1, "held", "x"u8.ToArray());
                Assert.True(await handlerStarted.WaitAsync(TimeSpan.FromSeconds(30)), "the handler never started");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(250 << attempt));
            release.Release();
            for (var waited = System.Diagnostics.Stopwatch.StartNew(); !logs.Contains(Gone) && waited.Elapsed < TimeSpan.FromSeconds(2);)
            {
                await Task.Delay(10);
            }
        }

        var entries = logs.Entries.Where(e => e.Message.Contains(Gone, StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(entries);
        Assert.All(entries, e => Assert.Equal(LogLevel.Information, e.Level));
        Assert.Contains("held", entries[0].Message, StringComparison.Ordinal);
        Assert.DoesNotContain(logs.Entries, e => e.Level >= LogLevel.Warning);
    }

    /// <summary>The same request as ZMTP 3.0 frames on the wire: two short frames with MORE, then the body as a long frame.</summary>
    private static void WriteRequest(Stream stream, ulong id, string service, byte[] body)
    {
        var header = RawCourier2.Header(id, service);
        stream.Write([0x01, 0x00]);
        stream.Write([0x01, (byte)header.Length]);
        stream.Write(header);
        stream.Write(RawZmtp.LongFrameHeader(body.Length));
        stream.Write(body);
    }

    /// <summary>A courier/2 request (docs/protocol.md): an empty delimiter, <c>CURC02</c> with the id and service, the body.</summary>
    private static void SendRequest(DealerSocket socket, ulong id, string service, byte[] body)
        => socket.SendMoreFrameEmpty().SendMoreFrame(RawCourier2.Header(id, service)).SendFrame(body);
}
