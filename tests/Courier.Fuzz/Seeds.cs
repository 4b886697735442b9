using System.Text;
using Courier.Protocol.Internal;

namespace Courier.Fuzz;

/// <summary>
/// The seed corpus: one script per conversation a real peer has with each engine, encoded by Courier's own writers so
/// the seeds follow the protocol as it is (docs/protocol.md). afl mutates from here. The file targets' seeds are <see cref="FileSeeds"/>.
/// </summary>
internal static class Seeds
{
    private static readonly byte[] Empty = [];

    public static void Write(string directory)
    {
        foreach (var (target, name, steps) in All())
        {
            var folder = Path.Combine(directory, target);
            Directory.CreateDirectory(folder);
            File.WriteAllBytes(Path.Combine(folder, name), FuzzInput.Write(steps));
        }

        foreach (var (target, name, text) in FileSeeds.All())
        {
            var folder = Path.Combine(directory, target);
            Directory.CreateDirectory(folder);
            File.WriteAllText(Path.Combine(folder, name), text);
        }
    }

    public static IEnumerable<(string Target, string Name, FuzzStep[] Steps)> All()
    {
        foreach (var (name, steps) in ClientConversations())
        {
            yield return ("server", name, steps);
            yield return ("broker", name, steps);
        }

        foreach (var (name, steps) in BrokerWithWorkers())
        {
            yield return ("broker", name, steps);
        }

        foreach (var (name, steps) in WorkerConversations())
        {
            yield return ("worker", name, steps);
        }
    }

    private static byte[] B(string text) => Encoding.UTF8.GetBytes(text);

    private static FuzzStep Message(int peer, params byte[][] frames) => new(StepKind.Message, peer, frames);

    private static FuzzStep Tick(int peer = 0) => new(StepKind.Tick, peer, []);

    private static FuzzStep Gone(int peer) => new(StepKind.Disconnect, peer, []);

    private static byte[] ClientBatch(params (ulong Id, string Service, string Body)[] records)
    {
        var writer = new BatchWriter(Batch.ClientRequest);
        foreach (var (id, service, body) in records)
        {
            writer.TryAdd(id, B(service), B(body));
        }

        return writer.Frame.ToArray();
    }

    /// <summary>A courier/5 client's batch whose records ask for courier/7's large replies; past 64 KiB with large bodies.</summary>
    private static byte[] ClientBatch7(params (ulong Id, string Service, string Body)[] records)
    {
        var writer = new BatchWriter(Batch.ClientRequest5, Batch.LargeMaxFrameLength);
        writer.SetClient(new ClientIdentity(7, 7));
        byte[] meta = [1, (byte)DeliveryFlags.LargeReplies, 0, 0, 0, 0];
        foreach (var (id, service, body) in records)
        {
            writer.TryAdd(id, B(service), meta, default, B(body));
        }

        return writer.Frame.ToArray();
    }

    private static byte[] WorkerBatch(params (ulong Token, string Service, string Body)[] records)
    {
        var writer = new BatchWriter(Batch.WorkerRequest, Batch.LargeMaxFrameLength);
        foreach (var (token, service, body) in records)
        {
            writer.TryAdd(token, B(service), B(body));
        }

        return writer.Frame.ToArray();
    }

    private static byte[] WorkerRequestHeader(ulong token, string service)
    {
        var frame = new byte[CourierWorkerFrame.MaxRequestLength];
        return frame.AsSpan(0, CourierWorkerFrame.WriteRequest(frame, token, B(service))).ToArray();
    }

    private static byte[] WorkerReplyHeader(ulong token, int status)
    {
        var frame = new byte[CourierWorkerFrame.ReplyLength];
        CourierWorkerFrame.WriteReply(frame, token, status);
        return frame;
    }

    private static IEnumerable<(string, FuzzStep[])> ClientConversations()
    {
        yield return ("req-plain", [Message(0, Empty, B("hello"))]);
        yield return ("req-empty", [Message(1, Empty)]);
        yield return ("mdp-echo", [Message(0, Empty, Mdp.ClientHeader, B("echo"), B("hello"), B("two"))]);
        yield return ("mdp-mmi", [Message(0, Empty, Mdp.ClientHeader, B("mmi.service"), B("echo")), Message(0, Empty, Mdp.ClientHeader, B("mmi.courier"), ProtocolVersions.Courier4)]);
        yield return ("mdp-stats", [Message(2, Empty, Mdp.ClientHeader, B("mmi.stats")), Message(2, Empty, Mdp.ClientHeader, B("mmi.workers"))]);
        yield return ("courier-lone", [Message(0, Empty, CourierFrame.Request(1, B("echo")), B("body")), Message(0, Empty, CourierFrame.Request(2, B("whoami")))]);
        yield return ("courier-fail", [Message(3, Empty, CourierFrame.Request(7, B("fail")), B("x")), Message(3, Empty, CourierFrame.Request(8, B("nope")), B("x"))]);
        yield return ("courier-batch", [Message(0, Empty, ClientBatch((1, "echo", "a"), (2, "whoami", ""), (3, "fail", "b"), (4, "nope", "c")))]);
        yield return ("enveloped", [Message(1, B("hop"), B("hop2"), Empty, CourierFrame.Request(1, B("echo")), B("body")), Message(1, B("hop"), Empty, ClientBatch((5, "echo", "e")))]);
        var large = new string('L', 16 * 1024);
        yield return ("courier7-batch", [Message(0, Empty, ClientBatch7((1, "echo", large), (2, "nope", large), (3, "echo", large), (4, "fail", large), (5, "echo", "a")))]);
        yield return ("client-gone", [Message(0, Empty, CourierFrame.Request(1, B("echo")), B("b")), Gone(0), Tick(2)]);
    }

    private static IEnumerable<(string, FuzzStep[])> BrokerWithWorkers()
    {
        var ready4 = Message(1, Empty, Mdp.WorkerHeader, MdpWorker.ReadyFrame, B("echo"), CourierWorkerFrame.Capability(4, 8, "w1"));
        var readyPlain = Message(2, Empty, Mdp.WorkerHeader, MdpWorker.ReadyFrame, B("echo"));
        yield return ("worker-ready-request-reply",
        [
            ready4,
            Message(0, Empty, CourierFrame.Request(1, B("echo")), B("hello")),
            Message(1, WorkerReplyHeader(1, 200), B("hello")),
            Message(1, Empty, Mdp.WorkerHeader, MdpWorker.HeartbeatFrame),
            Tick(3),
        ]);
        yield return ("plain-worker",
        [
            readyPlain,
            Message(0, Empty, Mdp.ClientHeader, B("echo"), B("hi")),
            Message(2, Empty, Mdp.WorkerHeader, MdpWorker.ReplyFrame, B("\0\x80\0\0\x01"), Empty, B("hi")),
            Message(2, Empty, Mdp.WorkerHeader, MdpWorker.DisconnectFrame),
        ]);
        yield return ("worker-dies",
        [
            ready4,
            Message(0, Empty, ClientBatch((1, "echo", "a"), (2, "echo", "b"))),
            Gone(1),
            Tick(3),
            Tick(3),
        ]);
        yield return ("worker-batch-reply",
        [
            ready4,
            Message(0, Empty, ClientBatch((1, "echo", "a"), (2, "echo", "b"))),
            Message(1, WorkerBatch((1, "", "a"), (2, "", "b"))),
        ]);
    }

    private static IEnumerable<(string, FuzzStep[])> WorkerConversations()
    {
        var probeAnswer = Message(0, Empty, Mdp.ClientHeader, ProtocolVersions.ProbeServiceBytes, ProtocolVersions.Courier4);
        yield return ("courier-requests",
        [
            probeAnswer,
            Message(0, WorkerRequestHeader(1, "echo"), B("hello")),
            Message(0, WorkerRequestHeader(2, "fail"), B("x")),
            Message(0, WorkerBatch((3, "echo", "a"), (4, "nope", "b"))),
            Tick(0),
        ]);
        var large = new string('L', 16 * 1024);
        yield return ("courier7-batch",
        [
            Message(0, Empty, Mdp.ClientHeader, ProtocolVersions.ProbeServiceBytes, ProtocolVersions.Courier7),
            Message(0, WorkerBatch((1, "echo", large), (2, "nope", large), (3, "echo", large), (4, "echo", large), (5, "fail", "x"))),
            Tick(0),
        ]);
        yield return ("mdp-requests",
        [
            Tick(3),
            Message(0, Empty, Mdp.WorkerHeader, MdpWorker.RequestFrame, B("client"), Empty, B("hello")),
            Message(0, Empty, Mdp.WorkerHeader, MdpWorker.HeartbeatFrame),
            Message(0, Empty, Mdp.WorkerHeader, MdpWorker.DisconnectFrame),
            Tick(3),
        ]);
        yield return ("drain", [probeAnswer, Message(0, WorkerRequestHeader(1, "echo"), B("hello")), Gone(0), Tick(1)]);
    }
}
