using Courier.Broker;
using Courier.Server;
using Courier.Tests.Infrastructure;
using Courier.Worker;

namespace Courier.Tests.Security;

/// <summary>
/// At-most-once and CANCEL name a request by (client identity, request id). Under CURVE the identity is bound to the
/// sender's key (docs/protocol.md §8): another admitted client that learned a victim's identity sends requests of its
/// own, and can neither join the victim's run (and take its reply), cancel it, nor read its remembered reply.
/// </summary>
public sealed class BoundIdentityTests : IDisposable
{
    private readonly Keys _keys = new Keys().Generate("alice", allow: true).Generate("mallory", allow: true).Generate("worker", allow: true);

    public void Dispose() => _keys.Dispose();

    [SkippableTheory]
    [InlineData("server")]
    [InlineData("broker")]
    public async Task A_client_using_another_clients_identity_can_neither_join_cancel_nor_read_its_requests(string topology)
    {
        Integration.StockClientTests.SkipUnlessPyzmq();
        var slowRuns = new List<string>();
        var cancelled = 0;
        var payRuns = 0;
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        CourierHandler slow = async (request, token) =>
        {
            lock (slowRuns)
            {
                slowRuns.Add(request.BodyText);
            }

            try
            {
                await release.Task.WaitAsync(token);
            }
            catch (OperationCanceledException)
            {
                Interlocked.Increment(ref cancelled);
                throw;
            }

            return CourierBody.Text("slow " + request.BodyText);
        };
        CourierHandler pay = (request, _) =>
        {
            Interlocked.Increment(ref payRuns);
            return ValueTask.FromResult(CourierBody.Text("paid " + request.BodyText));
        };

        await using var listener = await StartAsync(topology, slow, pay);
        var python = CurveTests.RunPythonAsync(Script(listener.Endpoint));

        // Alice's run and Mallory's own: without the binding, Mallory's repeat joined Alice's run (no second run) and took
        // its reply, and its CANCEL fired Alice's token.
        await Poll.UntilAsync(() => { lock (slowRuns) { return slowRuns.Count == 2; } }, TimeSpan.FromSeconds(30), "two runs of 'slow'");
        release.SetResult();
        var (exitCode, output) = await python;

        Assert.True(exitCode == 0, output);
        Assert.Equal(
            [
                "mallory slow: 200 slow mallory",
                "alice slow: 200 slow alice",
                "alice pay: 200 paid alice-secret",
                "mallory pay: 200 paid x",
                "alice pay again: 200 paid alice-secret",
                "alice batch: 200 paid alice-45, 200 paid alice-47",
                "mallory batch: 200 paid m45, 200 paid m46",
            ],
            output.Trim().Split('\n'));
        Assert.Equal(0, Volatile.Read(ref cancelled));
        Assert.Equal(6, Volatile.Read(ref payRuns)); // Alice's repeat got her remembered reply, not Mallory's run
        lock (slowRuns)
        {
            Assert.Equal(["alice", "mallory"], slowRuns.Order()); // handlers start on the thread pool: in either order
        }
    }

    [SkippableFact]
    public async Task A_client_with_one_key_is_one_lane_of_the_brokers_fair_queue_whatever_identities_it_draws()
    {
        Integration.StockClientTests.SkipUnlessPyzmq();
        // No worker: requests wait. Mallory fills the queue under one identity, then sends under another. A new identity
        // would be a new client with nothing queued, displacing Mallory's own newest; under CURVE it is the same key,
        // the heaviest lane, and is refused itself. Alice, another key, still takes Mallory's newest place.
        await using var broker = await TestBroker.StartAsync(o => o with { Security = _keys.Listener(), MaxQueuedPerService = 4 });
        var (exitCode, output) = await CurveTests.RunPythonAsync($$"""
            import struct, zmq, zmq.auth
            ctx = zmq.Context.instance()
            server, _ = zmq.auth.load_certificate("{{_keys.Public("server")}}")
            def connect(name):
                pub, sec = zmq.auth.load_certificate("{{_keys.Root}}/" + name + ".key_secret")
                s = ctx.socket(zmq.DEALER)
                s.linger = 0
                s.curve_publickey, s.curve_secretkey, s.curve_serverkey = pub, sec, server
                s.connect("{{broker.Endpoint}}")
                return s
            def request(s, ident, rid):
                head = b"CURC05\x01" + struct.pack(">Q", rid) + ident + b"\x01\x00" + struct.pack(">I", 30000)
                s.send_multipart([b"", head + bytes([5]) + b"queue", b"x"])
            def refused(s):
                if not s.poll(30000):
                    return "no answer"
                frames = s.recv_multipart()
                at = 7 if frames[1].startswith(b"CURC05") else 6  # a 503 to an at-most-once request names its attempt: the headers form
                return str(struct.unpack(">Q", frames[1][at:at + 8])[0]) + " " + frames[1][at + 8:at + 11].decode()
            mallory, alice = connect("mallory"), connect("alice")
            for rid in range(1, 5):
                request(mallory, bytes([0x11]) * 16, rid)
            mallory.send_multipart([b"", b"MDPC01", b"mmi.service", b"queue"])
            mallory.poll(30000) and mallory.recv_multipart()
            request(mallory, bytes([0x22]) * 16, 5)
            print("mallory: " + refused(mallory))
            request(alice, bytes([0x33]) * 16, 6)
            print("mallory: " + refused(mallory))
            """);

        Assert.True(exitCode == 0, output);
        Assert.Equal(["mallory: 5 503", "mallory: 4 503"], output.Trim().Split('\n'));
    }

    [SkippableFact]
    public async Task Under_CURVE_a_plain_client_that_goes_still_takes_its_queued_requests_with_it()
    {
        Integration.StockClientTests.SkipUnlessPyzmq();
        // Lanes per key are for courier/5 identities; a 7/MDP client keeps its connection's lane, by which its
        // disconnect finds what it had queued.
        await using var broker = await TestBroker.StartAsync(o => o with { Security = _keys.Listener() });
        await using var observer = TestServer.Client(broker.Endpoint!, o => o with { Security = _keys.Connector("alice") });
        var (exitCode, output) = await CurveTests.RunPythonAsync($$"""
            import zmq, zmq.auth
            ctx = zmq.Context.instance()
            server, _ = zmq.auth.load_certificate("{{_keys.Public("server")}}")
            pub, sec = zmq.auth.load_certificate("{{_keys.Root}}/mallory.key_secret")
            s = ctx.socket(zmq.DEALER)
            s.linger = 0
            s.curve_publickey, s.curve_secretkey, s.curve_serverkey = pub, sec, server
            s.connect("{{broker.Endpoint}}")
            for i in range(5):
                s.send_multipart([b"", b"MDPC01", b"later", b"x"])
            s.send_multipart([b"", b"MDPC01", b"mmi.service", b"later"])
            print("queued" if s.poll(30000) and s.recv_multipart() else "no answer")
            s.close()
            """);

        Assert.True(exitCode == 0 && output.Trim() == "queued", output);
        await Poll.UntilAsync(async () => (await TestBroker.StatsAsync(observer, "later")).Queued == 0, TimeSpan.FromSeconds(30), "the gone client's requests dropped");
    }

    private async Task<Listener> StartAsync(string topology, CourierHandler slow, CourierHandler pay)
    {
        if (topology == "server")
        {
            var server = await TestServer.StartAsync(o => o with { Security = _keys.Listener() }, s => s.Map("slow", slow).Map("pay", pay));
            return new Listener(server.Endpoint!, server, null);
        }

        var broker = await TestBroker.StartAsync(o => o with { Security = _keys.Listener() });
        var worker = new CourierWorker(
            TestBroker.WorkerOptions(broker.Endpoint!, "w") with { Service = "slow", Concurrency = 10, Security = _keys.Connector("worker") }, slow)
            .Map("pay", pay);
        await worker.StartAsync();
        var listener = new Listener(broker.Endpoint!, broker, worker);
        await using var client = TestServer.Client(broker.Endpoint!, o => o with { Security = _keys.Connector("alice"), Timeout = TimeSpan.FromSeconds(20) });
        await TestBroker.WaitForWorkersAsync(client, "slow", 1);
        await TestBroker.WaitForWorkersAsync(client, "pay", 1);
        return listener;
    }

    /// <summary>
    /// Alice and Mallory (both admitted), raw courier/5 frames over CURVE through pyzmq, one identity for both: Alice's
    /// 'slow' request (read by the listener before Mallory's, by an 8/MMI query on the same connection), then Mallory's
    /// CANCEL and request of the same id; then Alice's 'pay', Mallory's of the same id, and Alice's again; then a batch
    /// of Alice's (45, 47) and one of Mallory's (45, 46).
    /// </summary>
    private string Script(string endpoint) => $$"""
        import struct, zmq, zmq.auth
        ctx = zmq.Context.instance()
        server, _ = zmq.auth.load_certificate("{{_keys.Public("server")}}")
        ident = bytes([0x5A]) * 16
        def connect(name):
            pub, sec = zmq.auth.load_certificate("{{_keys.Root}}/" + name + ".key_secret")
            s = ctx.socket(zmq.DEALER)
            s.linger = 0
            s.curve_publickey, s.curve_secretkey, s.curve_serverkey = pub, sec, server
            s.connect("{{endpoint}}")
            return s
        def request(s, rid, service, body):
            head = b"CURC05\x01" + struct.pack(">Q", rid) + ident + b"\x01\x00" + struct.pack(">I", 30000)
            s.send_multipart([b"", head + bytes([len(service)]) + service.encode(), body.encode()])
        def batch(s, records):
            frame = b"CURB03\x05" + ident
            for rid, service, body in records:
                meta = b"\x01\x00" + struct.pack(">I", 30000)
                frame += struct.pack(">Q", rid) + bytes([len(service)]) + service.encode() + struct.pack(">H", len(meta)) + meta
                frame += struct.pack(">I", len(body)) + body.encode()
            s.send_multipart([b"", frame])
        def receive_many(s, count):
            # Replies to a batch come packed ("CURB03", 0x02) or alone ("CURC02"), matched by id.
            answers = {}
            while len(answers) < count and s.poll(30000):
                frames = s.recv_multipart()
                if frames[1][:7] == b"CURB03\x02":
                    at = 7
                    while at < len(frames[1]):
                        rid = struct.unpack(">Q", frames[1][at:at + 8])[0]
                        tag = frames[1][at + 9:at + 9 + frames[1][at + 8]]
                        at += 9 + len(tag)
                        length = struct.unpack(">I", frames[1][at:at + 4])[0]
                        answers[rid] = tag.decode() + " " + frames[1][at + 4:at + 4 + length].decode()
                        at += 4 + length
                else:
                    answers[struct.unpack(">Q", frames[1][6:14])[0]] = frames[1][14:17].decode() + " " + b"".join(frames[2:]).decode()
            return answers
        def cancel(s, rid):
            s.send_multipart([b"", b"CURC05\x03" + struct.pack(">Q", rid) + ident])
        def receive(s):
            if not s.poll(30000):
                return "no answer"
            frames = s.recv_multipart()
            return frames[1][14:17].decode() + " " + b"".join(frames[2:]).decode()
        alice, mallory = connect("alice"), connect("mallory")
        request(alice, 43, "slow", "alice")
        alice.send_multipart([b"", b"MDPC01", b"mmi.service", b"slow"])
        alice.poll(30000) and alice.recv_multipart()
        cancel(mallory, 43)
        request(mallory, 43, "slow", "mallory")
        print("mallory slow: " + receive(mallory))
        print("alice slow: " + receive(alice))
        request(alice, 44, "pay", "alice-secret")
        print("alice pay: " + receive(alice))
        request(mallory, 44, "pay", "x")
        print("mallory pay: " + receive(mallory))
        request(alice, 44, "pay", "alice-secret")
        print("alice pay again: " + receive(alice))
        batch(alice, [(45, "pay", "alice-45"), (47, "pay", "alice-47")])
        answers = receive_many(alice, 2)
        print("alice batch: " + answers.get(45, "no answer") + ", " + answers.get(47, "no answer"))
        batch(mallory, [(45, "pay", "m45"), (46, "pay", "m46")])
        answers = receive_many(mallory, 2)
        print("mallory batch: " + answers.get(45, "no answer") + ", " + answers.get(46, "no answer"))
        """;

    private sealed class Listener(string endpoint, IAsyncDisposable owner, CourierWorker? worker) : IAsyncDisposable
    {
        public string Endpoint { get; } = endpoint;

        public async ValueTask DisposeAsync()
        {
            if (worker is not null)
            {
                await worker.DisposeAsync();
            }

            await owner.DisposeAsync();
        }
    }
}
