using System.Text;
using Courier.Server;
using Courier.Tests.Infrastructure;
using NetMQ;
using NetMQ.Sockets;

namespace Courier.Tests.Integration;

/// <summary>
/// A request's envelope is bounded in every form, and what its replies repeat of it stays within a small factor of what
/// was sent: a batch of empty records behind a large envelope frame once cost a thousand times its size on a server
/// and on a broker.
/// </summary>
public sealed class EnvelopeBoundTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Server_drops_a_batch_whose_replies_would_repeat_a_large_envelope_and_keeps_serving()
    {
        var logs = new RecordingLoggerFactory();
        await using var server = await TestServer.StartAsync(o => o with { LoggerFactory = logs });
        await using var canary = await Canary.StartAsync(server.Endpoint!);

        var (sent, received) = Attack(server.Endpoint!, new byte[1024 * 1024], Records(1000, "echo"));

        Assert.True(received <= 4 * sent, $"{received} bytes answered {sent} bytes sent");
        Assert.Contains(logs.Messages, m => m.Contains("a batch with", StringComparison.Ordinal));
        await canary.AssertUnharmedAsync();
    }

    [Fact]
    public async Task Broker_drops_a_batch_whose_replies_would_repeat_a_large_envelope_and_keeps_serving()
    {
        var logs = new RecordingLoggerFactory();
        await using var broker = await TestBroker.StartAsync(o => o with { LoggerFactory = logs });
        await using var worker = await TestBroker.StartWorkerAsync(broker.Endpoint!, "w1", handler: CourierServices.Echo);
        await using var canary = await Canary.StartAsync(broker.Endpoint!);

        // Invalid service names: the broker answers each record 400 itself, no worker needed.
        var (sent, received) = Attack(broker.Endpoint!, new byte[1024 * 1024], Records(1000, "bad\u0001name"));

        Assert.True(received <= 4 * sent, $"{received} bytes answered {sent} bytes sent");
        Assert.Contains(logs.Messages, m => m.Contains("a batch with", StringComparison.Ordinal));
        await canary.AssertUnharmedAsync();
    }

    [Fact]
    public async Task A_batch_through_a_proxy_is_answered_record_by_record_within_the_bound()
    {
        await using var server = await TestServer.StartAsync();

        var records = Records(1000, "echo");
        var (sent, received, answered) = Send(server.Endpoint!, "proxy"u8.ToArray(), records, expected: 1000);

        Assert.Equal(1000, answered);
        Assert.True(received <= 4 * sent, $"{received} bytes answered {sent} bytes sent");
    }

    [Theory]
    [InlineData("plain")]
    [InlineData("mdp")]
    [InlineData("courier")]
    public async Task A_lone_request_behind_an_envelope_frame_longer_than_a_routing_id_is_dropped(string form)
    {
        var logs = new RecordingLoggerFactory();
        await using var server = await TestServer.StartAsync(o => o with { LoggerFactory = logs });
        using var dealer = new DealerSocket();
        dealer.Connect(server.Endpoint!);
        var message = new NetMQMessage();
        message.Append(new byte[256]);
        message.AppendEmptyFrame();
        switch (form)
        {
            case "mdp":
                message.Append("MDPC01");
                message.Append("echo");
                break;
            case "courier":
                message.Append([.. "CURC02"u8, 0, 0, 0, 0, 0, 0, 0, 1, .. "echo"u8]);
                break;
        }

        message.Append("hello");
        dealer.SendMultipartMessage(message);

        await Poll.UntilAsync(() => logs.Contains("a routing id has at most 255"), Wait, "the drop");
        Assert.False(dealer.TryReceiveFrameBytes(TimeSpan.FromMilliseconds(200), out _), "a dropped request gets no reply");
    }

    private static List<(ulong Id, string Tag, string Body)> Records(int count, string service)
        => [.. Enumerable.Range(1, count).Select(i => ((ulong)i, service, ""))];

    /// <summary>
    /// Sends <c>[envelope, "", batch]</c> from a raw DEALER, then an ordinary request on the same connection; once that one is
    /// answered, everything the batch brought back has arrived before it. Returns the bytes sent and received.
    /// </summary>
    private static (long Sent, long Received) Attack(string endpoint, byte[] envelope, List<(ulong Id, string Tag, string Body)> records)
    {
        var (sent, received, _) = Send(endpoint, envelope, records, expected: 0);
        return (sent, received);
    }

    private static (long Sent, long Received, int Answered) Send(string endpoint, byte[] envelope, List<(ulong Id, string Tag, string Body)> records, int expected)
    {
        using var dealer = new DealerSocket();
        dealer.Options.ReceiveHighWatermark = 0;
        dealer.Connect(endpoint);
        var batch = BatchFrames.Build(1, records);
        dealer.SendMoreFrame(envelope).SendMoreFrameEmpty().SendFrame(batch);
        long sent = envelope.Length + batch.Length;

        // The marker: an ordinary Courier request with an id no record has.
        byte[] marker = [.. "CURC02"u8, 0xFF, 0, 0, 0, 0, 0, 0, 0, .. "echo"u8];
        dealer.SendMoreFrameEmpty().SendMoreFrame(marker).SendFrame("marker");
        long received = 0;
        var answered = 0;
        var frames = new List<byte[]>();
        var marked = false;
        while (true)
        {
            Assert.True(dealer.TryReceiveMultipartBytes(Wait, ref frames!), $"the marker request was not answered, or {answered} of {expected} records");
            if (frames.Count >= 3 && Encoding.ASCII.GetString(frames[^1]) == "marker")
            {
                marked = true;
            }
            else
            {
                received += frames.Sum(f => (long)f.Length);
                var batchFrame = frames.FirstOrDefault(f => BatchFrames.Is(f, 2));
                answered += batchFrame is null ? 1 : BatchFrames.Parse(batchFrame).Count;
            }

            if (marked && answered >= expected)
            {
                return (sent, received, answered);
            }
        }
    }
}
