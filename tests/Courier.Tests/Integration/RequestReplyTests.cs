using System.Text;
using Courier.Client;
using Courier.Protocol;
using Courier.Server;
using Courier.Tests.Infrastructure;

namespace Courier.Tests.Integration;

public sealed class RequestReplyTests
{
    [Fact]
    public async Task A_client_and_a_worker_reach_their_broker_by_host_name()
    {
        // Connected by the address the name resolves to, looked up off the transport's I/O thread (HostResolver).
        await using var broker = await TestBroker.StartAsync();
        var byName = $"tcp://localhost:{Ports.Of(broker.Endpoint!)}";
        await using var worker = await TestBroker.StartWorkerAsync(byName, "named");
        await using var client = TestServer.Client(byName);
        await TestBroker.WaitForWorkersAsync(client, "echo", 1);

        Assert.Equal("named", (await client.RequestAsync("echo", "hi")).Frames[0].ToArray() is var first ? System.Text.Encoding.UTF8.GetString(first) : null);
    }

    [Fact]
    public async Task Ten_thousand_pipelined_requests_from_many_tasks_each_get_their_own_reply()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = TestServer.Client(server.Endpoint!);
        const int total = 10_000, inFlight = 200;
        var next = -1;
        var mismatches = 0;
        var completed = 0;

        // 200 tasks, each sending its share one after another: 200 requests in flight at any moment.
        await Task.WhenAll(Enumerable.Range(0, inFlight).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < total)
            {
                var payload = $"request-{i}";
                var reply = await client.RequestAsync("echo", [Encoding.UTF8.GetBytes(payload), BitConverter.GetBytes(i)]);
                if (reply.BodyText != payload || BitConverter.ToInt32(reply.Frames[1].Span) != i)
                {
                    Interlocked.Increment(ref mismatches);
                }

                Interlocked.Increment(ref completed);
            }
        })));

        Assert.Equal(total, completed);
        Assert.Equal(0, mismatches);
    }

    [Fact]
    public async Task Inline_continuations_resume_on_the_client_loop_and_may_request_again_from_there()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = TestServer.Client(server.Endpoint!, o => o with { RunContinuationsInline = true });
        int resumedOnLoop = 0, askedFromLoop = 0, askedFromLoopResumedElsewhere = 0;
        static bool OnClientLoop() => Thread.CurrentThread.Name == "courier-client";

        // 50 loops of 100 requests each, every request after the first made from the previous one's continuation.
        var loops = Enumerable.Range(0, 50).Select(loop => Task.Run(async () =>
        {
            for (var i = 0; i < 100; i++)
            {
                var askedOnLoop = OnClientLoop();
                var reply = await client.RequestAsync("echo", $"{loop}-{i}");
                Assert.Equal($"{loop}-{i}", reply.BodyText);
                if (OnClientLoop())
                {
                    Interlocked.Increment(ref resumedOnLoop);
                }

                if (askedOnLoop)
                {
                    Interlocked.Increment(ref askedFromLoop);
                    if (!OnClientLoop())
                    {
                        Interlocked.Increment(ref askedFromLoopResumedElsewhere);
                    }
                }
            }
        }));
        await Task.WhenAll(loops).WaitAsync(TimeSpan.FromSeconds(60));

        // A request made from a thread-pool thread may be answered before its await begins, and then goes on there;
        // one made from the loop cannot be: the loop sends it only after the continuation has returned.
        Assert.True(resumedOnLoop > 2500, $"only {resumedOnLoop} of 5000 continuations ran on the client loop");
        Assert.True(askedFromLoop > 2500, $"only {askedFromLoop} of 5000 requests were made from the client loop");
        Assert.Equal(0, askedFromLoopResumedElsewhere);
    }

    [Fact]
    public async Task An_answered_request_is_not_kept_alive_until_its_timeout_would_have_passed()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = TestServer.Client(server.Endpoint!, o => o with { Timeout = TimeSpan.FromMinutes(5) });

        var reply = await RequestAndForgetAsync(client);

        await Poll.UntilAsync(() =>
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            return !reply.IsAlive;
        }, TimeSpan.FromSeconds(10), "the reply to be collected");
    }

    // Separate method, so no local of the test keeps the reply reachable.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static async Task<WeakReference> RequestAndForgetAsync(CourierClient client)
    {
        var reply = await client.RequestAsync("echo", new byte[100_000]);
        Assert.Equal(100_000, reply.Body.Length);
        return new WeakReference(reply);
    }

    [Fact]
    public async Task Handler_exception_reaches_the_caller_as_500_with_an_error_id_only_and_the_next_request_succeeds()
    {
        using var logs = new RecordingLoggerFactory();
        await using var server = await TestServer.StartAsync(o => o with { LoggerFactory = logs }, s => s.Map("fragile", (request, _) =>
            request.BodyText == "boom" ? throw new InvalidOperationException("kaboom at /srv/secret.db") : ValueTask.FromResult(request.Frames)));
        await using var client = TestServer.Client(server.Endpoint!);

        var error = await Assert.ThrowsAsync<CourierRemoteException>(() => client.RequestAsync("fragile", "boom"));
        Assert.Equal(CourierStatus.ServerError, error.StatusCode);
        Assert.DoesNotContain("kaboom", error.RemoteMessage, StringComparison.Ordinal);
        Assert.DoesNotContain(nameof(InvalidOperationException), error.RemoteMessage, StringComparison.Ordinal);
        var errorId = System.Text.RegularExpressions.Regex.Match(error.RemoteMessage, "error id ([0-9a-f]{12})").Groups[1].Value;
        Assert.NotEmpty(errorId);
        Assert.Contains(logs.Entries, e => e.Level == Microsoft.Extensions.Logging.LogLevel.Error && e.Message.Contains(errorId, StringComparison.Ordinal));

        var reply = await client.RequestAsync("fragile", "fine");
        Assert.Equal("fine", reply.BodyText);
    }

    [Fact]
    public async Task Handler_answers_a_chosen_status_and_message_by_throwing_CourierServiceException()
    {
        await using var server = await TestServer.StartAsync(map: s => s.Map("items", (request, _) =>
            throw new CourierServiceException(CourierStatus.NotFound, $"no item '{request.BodyText}'")));
        await using var client = TestServer.Client(server.Endpoint!);

        var error = await Assert.ThrowsAsync<CourierRemoteException>(() => client.RequestAsync("items", "42"));
        Assert.Equal(CourierStatus.NotFound, error.StatusCode);
        Assert.Equal("no item '42'", error.RemoteMessage);
    }

    [Fact]
    public async Task Unknown_service_is_answered_404_and_the_connection_keeps_working()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = TestServer.Client(server.Endpoint!);

        var error = await Assert.ThrowsAsync<CourierRemoteException>(() => client.RequestAsync("nosuch", "x"));
        Assert.Equal(CourierStatus.NotFound, error.StatusCode);
        Assert.Contains("nosuch", error.Message, StringComparison.Ordinal);
        Assert.Equal("x", (await client.RequestAsync("echo", "x")).BodyText);
    }

    [Fact]
    public async Task Request_body_over_the_servers_limit_is_answered_413()
    {
        await using var server = await TestServer.StartAsync(o => o with { MaxRequestSize = 1000 });
        await using var client = TestServer.Client(server.Endpoint!);

        var error = await Assert.ThrowsAsync<CourierRemoteException>(() => client.RequestAsync("echo", new byte[600 * 2]));
        Assert.Equal(CourierStatus.TooLarge, error.StatusCode);
        Assert.Equal(999, (await client.RequestAsync("echo", new byte[999])).Body.Length);
    }

    [Fact]
    public async Task Request_times_out_after_all_attempts_when_nothing_listens()
    {
        using var nobody = PortReservation.Any();
        await using var client = TestServer.Client(nobody.Endpoint, o => o with { Timeout = TimeSpan.FromMilliseconds(200), Retries = 2 });

        var error = await Assert.ThrowsAsync<CourierTimeoutException>(() => client.RequestAsync("echo", "x"));
        Assert.Equal(3, error.Attempts);
        Assert.Equal("echo", error.Service);
    }

    [Fact]
    public async Task Overall_deadline_ends_a_request_before_its_attempts_run_out()
    {
        using var nobody = PortReservation.Any();
        await using var client = TestServer.Client(nobody.Endpoint, o => o with
        {
            Timeout = TimeSpan.FromSeconds(1),
            Retries = 10,
            Deadline = TimeSpan.FromMilliseconds(300),
        });

        var error = await Assert.ThrowsAsync<CourierTimeoutException>(() => client.RequestAsync("echo", "x"));
        Assert.Equal(1, error.Attempts);
        Assert.True(error.Elapsed < TimeSpan.FromSeconds(1), $"took {error.Elapsed}");
    }

    [Fact]
    public async Task Request_succeeds_through_a_retry_when_the_server_starts_after_the_request()
    {
        // The server binds the reserved port later, while it is still reserved: nothing else can take it meanwhile.
        using var port = PortReservation.Any();
        using var log = new RecordingLoggerFactory();
        await using var client = TestServer.Client(port.Endpoint, o => o with { Timeout = TimeSpan.FromMilliseconds(500), Retries = 10, LoggerFactory = log });

        var request = client.RequestAsync("echo", "late");
        await Poll.UntilAsync(() => log.Contains("no answer to the protocol probe"), what: "a first connection gave up and a fresh one asks again");
        Assert.False(request.IsCompleted);
        await using var server = await TestServer.StartAsync(o => o with { Endpoint = port.Endpoint });

        Assert.Equal("late", (await request.WaitAsync(TimeSpan.FromSeconds(30))).BodyText);
    }

    [Fact]
    public async Task Client_fails_over_to_the_next_endpoint_when_the_first_is_dead()
    {
        await using var server = await TestServer.StartAsync(o => o with { Name = "second" });
        using var dead = PortReservation.Any();
        await using var client = TestServer.Client(dead.Endpoint, o => o with
        {
            Endpoints = [dead.Endpoint, server.Endpoint!],
            Timeout = TimeSpan.FromSeconds(1),
            Retries = 3,
        });

        Assert.Equal("second", (await client.RequestAsync("whoami", "")).BodyText);
    }

    [Fact]
    public async Task Caller_cancellation_is_an_OperationCanceledException_and_other_requests_continue()
    {
        var gate = new TaskCompletionSource();
        await using var server = await TestServer.StartAsync(map: s => s.Map("slow", async (r, ct) =>
        {
            await gate.Task.WaitAsync(ct);
            return r.Frames;
        }));
        await using var client = TestServer.Client(server.Endpoint!);
        using var cts = new CancellationTokenSource();

        var slow = client.RequestAsync("slow", "s", cts.Token);
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => slow);
        Assert.Equal("still here", (await client.RequestAsync("echo", "still here")).BodyText);
        gate.SetResult();
    }

    [Fact]
    public async Task Graceful_stop_completes_the_requests_in_flight()
    {
        using var held = await HeldWorkServer.StartAsync();
        var server = held.Server;
        await using var client = TestServer.Client(server.Endpoint!, o => o with { Retries = 0, Timeout = TimeSpan.FromSeconds(30) });

        var requests = Enumerable.Range(0, 20).Select(i => client.RequestAsync("work", $"job-{i}")).ToArray();
        await Poll.UntilAsync(() => server.InFlight == 20, what: "all 20 requests in flight");
        // The server's loop has begun the drain, and refuses a new request: still it waits for the 20.
        var stopping = await held.BeginStopAsync();
        var refused = await Assert.ThrowsAsync<CourierRemoteException>(() => client.RequestAsync("echo", "late"));
        Assert.Equal(CourierStatus.Unavailable, refused.StatusCode);
        Assert.False(stopping.IsCompleted, "stop must wait for the requests in flight");
        held.Release.SetResult();
        await stopping.WaitAsync(TimeSpan.FromSeconds(30));

        var replies = await Task.WhenAll(requests).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"job-{i}"), replies.Select(r => r.BodyText));
        await server.DisposeAsync();
    }

    [Fact]
    public async Task Requests_arriving_during_a_stop_are_refused_with_503()
    {
        using var held = await HeldWorkServer.StartAsync();
        var server = held.Server;
        await using var client = TestServer.Client(server.Endpoint!, o => o with { Retries = 0 });
        var inFlight = client.RequestAsync("work", "held");
        await Poll.UntilAsync(() => server.InFlight == 1);
        var stopping = await held.BeginStopAsync();

        var refused = await Assert.ThrowsAsync<CourierRemoteException>(() => client.RequestAsync("echo", "late"));
        Assert.Equal(CourierStatus.Unavailable, refused.StatusCode);
        held.Release.SetResult();
        Assert.Equal("held", (await inFlight).BodyText);
        await stopping;
        await server.DisposeAsync();
    }

    [Fact]
    public async Task A_request_refused_by_a_slow_stopping_server_backs_off_and_is_served_by_its_replacement_on_the_same_endpoint()
    {
        // A rolling restart behind one address (nginx, a Service): the stopping server refuses every fresh connection the
        // client opens while its last request finishes. Retried at every 100 ms tick, the refused request used up its 4
        // attempts (4 refusals each) within about 2 s; with the backoff it waits for the replacement.
        using var held = await HeldWorkServer.StartAsync();
        var first = held.Server;
        var endpoint = first.Endpoint!;
        await using var client = TestServer.Client(endpoint, o => o with { Retries = 3 });
        var inFlight = client.RequestAsync("work", "held");
        await Poll.UntilAsync(() => first.InFlight == 1, what: "the held request running");
        var stopping = await held.BeginStopAsync();

        // Idempotent: an at-most-once request that reaches the stopping server just as it closes goes unanswered, and
        // once the client hears the replacement's incarnation it fails 520 (it cannot tell that it never ran;
        // docs/protocol.md, delivery guarantees). What this test asserts is the backoff.
        var late = client.RequestAsync("echo", "late", Load.Idempotent);
        // Not a wait for a condition: the stop is held this long on purpose, twice what tick-paced retries lasted.
        await Task.Delay(TimeSpan.FromSeconds(4));
        Assert.False(late.IsCompleted, late.IsFaulted ? late.Exception!.InnerException!.Message : "answered by a stopping server");

        held.Release.SetResult();
        Assert.Equal("held", (await inFlight).BodyText);
        await stopping.WaitAsync(TimeSpan.FromSeconds(30));
        await first.DisposeAsync();
        await using var replacement = await StartOnceFreeAsync(endpoint);

        Assert.Equal("late", (await late.WaitAsync(TimeSpan.FromSeconds(30))).BodyText);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Drain_timeout_cancels_handlers_that_do_not_finish_and_tells_their_callers_whether_they_may_have_run(bool idempotent)
    {
        // Its own service name: the recorder hears every test's servers.
        var service = idempotent ? "forever-drained-idempotent" : "forever-drained";
        using var metrics = new MetricRecorder();
        var server = await TestServer.StartAsync(o => o with { DrainTimeout = TimeSpan.FromMilliseconds(200) }, s => s.Map(
            service,
            async (r, ct) =>
            {
                await Task.Delay(Timeout.Infinite, ct);
                return r.Frames;
            },
            idempotent));
        await using var client = TestServer.Client(server.Endpoint!, o => o with { Retries = 0, Timeout = TimeSpan.FromSeconds(5) });
        var stuck = client.RequestAsync(service, "x");
        await Poll.UntilAsync(() => server.InFlight == 1);

        await server.StopAsync().WaitAsync(TimeSpan.FromSeconds(30));

        // The handler had started: at most once, its caller is told the outcome is unknown (520); an idempotent one is
        // refused (503), which a client retries on another server.
        var error = await Assert.ThrowsAnyAsync<CourierException>(() => stuck);
        if (idempotent)
        {
            // The server answered 503. A refusal is retried within its attempt: on a loaded machine the retry can reach
            // the server while it still closes (a fresh connection negotiated with it), and nothing answers it then: the
            // caller gets the attempt's timeout, never a reply, and never "outcome unknown".
            Assert.Contains(
                metrics.Of("courier.server.requests", service),
                m => m.Tags.GetValueOrDefault(Courier.Diagnostics.Internal.CourierMetrics.StatusTag) == "503");
            if (error is not CourierTimeoutException)
            {
                Assert.Equal(CourierStatus.Unavailable, Assert.IsType<CourierRemoteException>(error).StatusCode);
            }
        }
        else
        {
            Assert.Contains("shut down before the request finished", Assert.IsType<CourierOutcomeUnknownException>(error).Message, StringComparison.Ordinal);
        }

        await server.DisposeAsync();
    }

    [Fact]
    public async Task Mmi_service_reports_which_services_exist()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = TestServer.Client(server.Endpoint!);

        Assert.Equal("200", (await client.RequestAsync("mmi.service", "echo")).BodyText);
        Assert.Equal("404", (await client.RequestAsync("mmi.service", "nosuch")).BodyText);
        Assert.Equal("501", (await client.RequestAsync("mmi.nosuch", "")).BodyText);
    }

    [Fact]
    public async Task Plain_mdp_protocol_serves_requests_one_at_a_time_in_order()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = TestServer.Client(server.Endpoint!, o => o with { Protocol = ClientProtocol.Mdp });

        var replies = await Task.WhenAll(Enumerable.Range(0, 50).Select(i => client.RequestAsync("echo", $"{i}")));
        Assert.Equal(Enumerable.Range(0, 50).Select(i => $"{i}"), replies.Select(r => r.BodyText));
    }

    [Fact]
    public async Task A_plain_mdp_reply_that_comes_after_its_request_failed_never_answers_the_next_one()
    {
        // 7/MDP has no ids: the client matches a reply to the one request out on the connection. The first request's
        // deadline passes while its handler runs; the second goes out; then the first's reply comes, before the second's.
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var secondStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await TestServer.StartAsync(map: s => s.Map("held", async (r, ct) =>
        {
            if (r.BodyText == "two")
            {
                secondStarted.TrySetResult();
                await release.Task.WaitAsync(ct);
                await Task.Delay(300, ct); // the first's reply leaves well before this one
            }
            else
            {
                await release.Task.WaitAsync(ct);
            }

            return r.Frames;
        }));
        await using var client = TestServer.Client(server.Endpoint!, o => o with { Protocol = ClientProtocol.Mdp, Retries = 0, Timeout = TimeSpan.FromSeconds(30) });

        var first = client.RequestAsync("held", "one", CourierRequestOptions.Default with { Deadline = TimeSpan.FromMilliseconds(300) });
        var second = client.RequestAsync("held", "two");
        await Assert.ThrowsAsync<CourierTimeoutException>(() => first);
        await secondStarted.Task.WaitAsync(TimeSpan.FromSeconds(30));
        release.SetResult();

        Assert.Equal("two", (await second.WaitAsync(TimeSpan.FromSeconds(30))).BodyText);
    }

    /// <summary>
    /// A test server whose <c>work</c> requests wait for <see cref="Release"/>, and the log that tells when a stop's drain
    /// began (<see cref="BeginStopAsync"/>).
    /// </summary>
    /// <summary>
    /// A server on <paramref name="endpoint"/> as soon as its port is free: libzmq and NetMQ close a disposed listener on
    /// their own threads a moment later, so the first bind may find it still in use (said in the inner exception on NetMQ).
    /// </summary>
    private static async Task<CourierServer> StartOnceFreeAsync(string endpoint)
    {
        CourierServer? server = null;
        await Poll.UntilAsync(
            async () =>
            {
                try
                {
                    server = await TestServer.StartAsync(o => o with { Endpoint = endpoint });
                    return true;
                }
                catch (InvalidOperationException ex) when (ex.ToString().Contains("Address already in use", StringComparison.Ordinal))
                {
                    return false;
                }
            },
            what: $"a server bound to {endpoint}");
        return server!;
    }

    private sealed class HeldWorkServer : IDisposable
    {
        private readonly RecordingLoggerFactory _log = new();

        public TaskCompletionSource Release { get; } = new();

        public CourierServer Server { get; private set; } = null!;

        public static async Task<HeldWorkServer> StartAsync()
        {
            var held = new HeldWorkServer();
            held.Server = await TestServer.StartAsync(o => o with { LoggerFactory = held._log }, s => s.Map("work", async (r, ct) =>
            {
                await held.Release.Task.WaitAsync(ct);
                return r.Frames;
            }));
            return held;
        }

        /// <summary>
        /// Stops the server and returns the stop once its loop has begun the drain (it logs so): StopAsync only asks the
        /// loop, and a request that reaches the loop first is served.
        /// </summary>
        public async Task<Task> BeginStopAsync()
        {
            var stopping = Server.StopAsync();
            await Poll.UntilAsync(() => _log.Contains(" stopping: "), what: "the drain begun");
            return stopping;
        }

        public void Dispose() => _log.Dispose();
    }
}

public sealed class ClientClockTests
{
    [Fact]
    public async Task Attempt_timeouts_follow_the_injected_clock()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        using var nobody = PortReservation.Any();
        await using var client = TestServer.Client(nobody.Endpoint, o => o with { Timeout = TimeSpan.FromHours(1), Retries = 1, TimeProvider = clock });

        var request = client.RequestAsync("echo", "x");
        // Real time passing without the injected clock moving is what is tested here: three of the loop's 100 ms ticks.
        await Task.Delay(300);
        Assert.False(request.IsCompleted, "an hour has not passed on the injected clock");

        // Each advance expires one attempt; the loop's tick notices within its interval.
        await Poll.UntilAsync(() =>
        {
            clock.Advance(TimeSpan.FromMinutes(61));
            return request.IsCompleted;
        }, TimeSpan.FromSeconds(30), "request ends after two expired attempts");

        var error = await Assert.ThrowsAsync<CourierTimeoutException>(() => request);
        Assert.Equal(2, error.Attempts);
        Assert.True(error.Elapsed >= TimeSpan.FromHours(2));
    }
}
