using System.Runtime.InteropServices;
using Courier.Tests.Infrastructure;
using Courier.Transport.Internal.Native;

namespace Courier.Tests.Integration;

/// <summary>
/// A signal that lands while a loop is inside libzmq makes the call fail with EINTR (libzmq polls its mailbox inside
/// zmq_send, zmq_msg_recv and the ZMQ_EVENTS query, and poll(2) is never restarted after a signal handler). The .NET
/// runtime signals threads to suspend them for a collection, and an application may take signals of its own. Such a
/// failure is neither a refused send nor an empty socket: taken for one, a request or a reply was dropped, or a socket
/// left unread, until the caller's attempt timed out.
/// </summary>
[Collection(InterruptedCallTests.Name)]
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed partial class InterruptedCallTests
{
    public const string Name = "signals at the loops";
    private const int Requests = 2_000;
    private const int InFlight = 200;

    [SkippableFact]
    public async Task Every_request_is_answered_while_signals_interrupt_the_loops_calls_into_libzmq()
    {
        Skip.If(TestTransport.IsManaged, "libzmq's EINTR: the managed transport makes no libzmq calls");
        using var registration = PosixSignalRegistration.Create(PosixSignal.SIGWINCH, context => context.Cancel = true);
        var before = LoopThreads();
        await using var broker = await TestBroker.StartAsync();
        await using var worker = await TestBroker.StartWorkerAsync(
            broker.Endpoint!, "signalled", concurrency: InFlight, handler: (request, _) => ValueTask.FromResult(request.Frames));
        // One attempt, with a deadline no healthy run comes near: a request or reply dropped (or a socket left unread)
        // fails the test instead of being hidden by a retry.
        await using var client = TestServer.Client(broker.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(60), Retries = 0 });
        await Check(client.RequestAsync("echo", "first"), "first");
        var loops = LoopThreads().Except(before).ToArray();
        Assert.True(loops.Length >= 3, $"the client's, broker's and worker's loops: found {loops.Length}");

        using var stop = new CancellationTokenSource();
        long signals = 0;
        var pid = Environment.ProcessId;
        var signaller = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                foreach (var tid in loops)
                {
                    _ = Tgkill(pid, tid, (int)Signal.Winch);
                    signals++;
                }

                Thread.SpinWait(20);
            }
        });

        var interruptedBefore = LibZmq.Interrupted;
        var answered = 0;
        try
        {
            // At least Requests, and on until some call was interrupted (a signal has to land inside one): the test
            // proves nothing about EINTR otherwise.
            var until = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            var next = 0;
            var running = new List<Task>();
            while (answered < Requests || (LibZmq.Interrupted == interruptedBefore && DateTime.UtcNow < until) || running.Count > 0)
            {
                var more = answered < Requests || (LibZmq.Interrupted == interruptedBefore && DateTime.UtcNow < until);
                while (more && running.Count < InFlight)
                {
                    var body = $"r{next++}";
                    running.Add(Check(client.RequestAsync("echo", body), body));
                }

                var done = await Task.WhenAny(running);
                await done;
                running.Remove(done);
                answered++;
            }
        }
        finally
        {
            await stop.CancelAsync();
            await signaller;
        }

        Assert.True(LibZmq.Interrupted > interruptedBefore, $"no libzmq call was interrupted in {answered} requests and {signals} signals");
    }

    private static async Task Check(Task<Courier.Client.CourierReply> pending, string body)
    {
        using var reply = await pending;
        Assert.Equal(body, reply.BodyText);
    }

    /// <summary>The threads of this process named as Courier's loops name theirs.</summary>
    private static HashSet<int> LoopThreads()
    {
        var loops = new HashSet<int>();
        foreach (var task in Directory.GetDirectories("/proc/self/task"))
        {
            try
            {
                if (File.ReadAllText(Path.Combine(task, "comm")).StartsWith("courier-", StringComparison.Ordinal))
                {
                    loops.Add(int.Parse(Path.GetFileName(task), System.Globalization.CultureInfo.InvariantCulture));
                }
            }
            catch (IOException)
            {
                // a thread that ended while listed
            }
        }

        return loops;
    }

    private enum Signal
    {
        Winch = 28,
    }

    [LibraryImport("libc", EntryPoint = "tgkill", SetLastError = true)]
    private static partial int Tgkill(int processId, int threadId, int signal);
}

/// <summary>Signals sent to loop threads by tid: alone, so that no other test's loop (named alike) is among them.</summary>
[CollectionDefinition(InterruptedCallTests.Name, DisableParallelization = true)]
public sealed class SignalledLoops;
