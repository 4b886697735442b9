using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Courier.Tests.Infrastructure;

namespace Courier.Tests.Cli;

/// <summary>
/// <c>courier broker --metrics-port</c> as a person would run it: a real broker and worker process, load from a client,
/// and the Prometheus text read over HTTP, by an HttpClient and by a real Prometheus server (Debian's package).
/// </summary>
public sealed partial class MetricsEndpointTests
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    [Fact]
    public async Task A_broker_serves_prometheus_text_with_its_request_counter_moving()
    {
        var service = $"scraped{Guid.NewGuid():N}"[..16];
        await using var stack = await Stack.StartAsync(service);

        await stack.LoadAsync(10);
        await Poll.UntilAsync(async () => Counter(await Http.GetStringAsync(stack.MetricsUrl), service) >= 10, TimeSpan.FromSeconds(30), "10 requests counted");
        await stack.LoadAsync(5);
        await Poll.UntilAsync(async () => Counter(await Http.GetStringAsync(stack.MetricsUrl), service) >= 15, TimeSpan.FromSeconds(30), "15 requests counted");

        var text = await Http.GetStringAsync(stack.MetricsUrl);
        Assert.Contains("# TYPE courier_broker_requests_total counter", text, StringComparison.Ordinal);
        Assert.Matches($"courier_broker_workers\\{{[^}}]*rpc_method=\"{service}\"[^}}]*\\}} 1", text);
        Assert.Contains("courier_broker_queue_wait_seconds_bucket", text, StringComparison.Ordinal);

        // The runtime's own meter beside Courier's: what the process allocated and how often it collected.
        Assert.Matches(@"dotnet_gc_heap_total_allocated_bytes_total\{[^}]*\} [1-9]", text);
        Assert.Contains("dotnet_gc_collections_total", text, StringComparison.Ordinal);

        // The worker has its own endpoint: its handlers' durations.
        var worker = await Http.GetStringAsync(stack.WorkerMetricsUrl);
        Assert.Matches($"rpc_server_call_duration_seconds_count\\{{[^}}]*rpc_method=\"{service}\"", worker);
    }

    [Fact]
    public async Task A_metrics_port_without_a_host_serves_every_interface_as_a_container_needs()
    {
        // The default host, 0.0.0.0: OpenTelemetry's HttpListener exporter took it as it was neither (the exporter made
        // a URI of "*") nor (HttpListener refused 0.0.0.0), and the process exited at start.
        var (server, _) = await ChildProcess.StartServerAsync("--bind", "tcp://127.0.0.1:*", "--metrics-port", "*");
        await using (server)
        {
            await server.WaitForOutputAsync("metrics on http://");
            var url = new Uri(MetricsLine().Match(server.Stdout).Groups[1].Value);
            Assert.Equal("0.0.0.0", url.Host);

            var text = await Http.GetStringAsync($"http://127.0.0.1:{url.Port}/metrics");
            Assert.Contains("# TYPE", text, StringComparison.Ordinal);
        }
    }

    [SkippableFact]
    public async Task A_real_prometheus_server_scrapes_the_broker_and_sees_requests_increase()
    {
        const string prometheus = "/usr/bin/prometheus";
        if (!File.Exists(prometheus) && Repo.IsCi)
        {
            Assert.Fail("prometheus is required in CI; setup.sh installs it.");
        }

        Skip.IfNot(File.Exists(prometheus), "prometheus is missing: apt-get install prometheus");
        var service = $"prom{Guid.NewGuid():N}"[..16];
        await using var stack = await Stack.StartAsync(service);
        var target = new Uri(stack.MetricsUrl);
        var work = Directory.CreateTempSubdirectory("courier-prometheus-");
        try
        {
            var config = Path.Combine(work.FullName, "prometheus.yml");
            await File.WriteAllTextAsync(config, $"""
                global:
                  scrape_interval: 1s
                  scrape_timeout: 1s
                scrape_configs:
                  - job_name: courier-broker
                    static_configs:
                      - targets: ['{target.Host}:{target.Port}']
                """);
            await using var server = await StartPrometheusAsync(prometheus, config, Path.Combine(work.FullName, "data"));
            var query = $"{server.Url}/api/v1/query?query=" + Uri.EscapeDataString($"sum(courier_broker_requests_total{{rpc_method=\"{service}\"}})");

            await stack.LoadAsync(10);
            double first = 0;
            await Poll.UntilAsync(async () => (first = await QueryAsync(query)) >= 10, TimeSpan.FromSeconds(60), "Prometheus sees the first 10 requests");
            await stack.LoadAsync(10);
            await Poll.UntilAsync(async () => await QueryAsync(query) >= first + 10, TimeSpan.FromSeconds(60), "Prometheus sees the counter increase");
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    /// <summary>Prometheus on 127.0.0.1, on a port below the ephemeral range; another one is tried if it is taken.</summary>
    private static async Task<(ChildProcess Process, string Url)> StartPrometheusProcessAsync(string prometheus, string config, string data)
    {
        for (var attempt = 0; ; attempt++)
        {
            var port = Random.Shared.Next(20_000, 32_000);
            var process = ChildProcess.StartProgram(prometheus, $"--config.file={config}", $"--storage.tsdb.path={data}", $"--web.listen-address=127.0.0.1:{port}");
            var url = $"http://127.0.0.1:{port}";
            try
            {
                await Poll.UntilAsync(
                    async () =>
                    {
                        if (process.HasExited)
                        {
                            throw new InvalidOperationException($"prometheus exited with {process.ExitCode}: {process.Stderr}");
                        }

                        try
                        {
                            return (await Http.GetAsync($"{url}/-/ready")).IsSuccessStatusCode;
                        }
                        catch (HttpRequestException)
                        {
                            return false;
                        }
                    },
                    TimeSpan.FromSeconds(60),
                    "prometheus ready");
                return (process, url);
            }
            catch (InvalidOperationException) when (attempt < 5 && process.Stderr.Contains("address already in use", StringComparison.Ordinal))
            {
                await process.DisposeAsync();
            }
            catch
            {
                await process.DisposeAsync();
                throw;
            }
        }
    }

    private static async Task<PrometheusServer> StartPrometheusAsync(string prometheus, string config, string data)
    {
        var (process, url) = await StartPrometheusProcessAsync(prometheus, config, data);
        return new PrometheusServer(process, url);
    }

    private static async Task<double> QueryAsync(string query)
    {
        using var json = JsonDocument.Parse(await Http.GetStringAsync(query));
        var result = json.RootElement.GetProperty("data").GetProperty("result");
        return result.GetArrayLength() == 0 ? 0 : double.Parse(result[0].GetProperty("value")[1].GetString()!, CultureInfo.InvariantCulture);
    }

    /// <summary>The value of <c>courier_broker_requests_total</c> for <paramref name="service"/> and status 200 in Prometheus text.</summary>
    private static double Counter(string text, string service)
        => CounterLine().Matches(text)
            .Where(m => m.Groups["labels"].Value.Contains($"rpc_method=\"{service}\"", StringComparison.Ordinal)
                && m.Groups["labels"].Value.Contains("rpc_response_status_code=\"200\"", StringComparison.Ordinal))
            .Sum(m => double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture));

    [GeneratedRegex(@"^courier_broker_requests_total\{(?<labels>[^}]*)\} (?<value>\S+)", RegexOptions.Multiline)]
    private static partial Regex CounterLine();

    private sealed record PrometheusServer(ChildProcess Process, string Url) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => Process.DisposeAsync();
    }

    /// <summary>A <c>courier broker</c> and <c>courier worker</c>, each with --metrics-port *, and a client for load.</summary>
    private sealed class Stack : IAsyncDisposable
    {
        private readonly ChildProcess _broker;
        private readonly ChildProcess _worker;
        private readonly Courier.Client.CourierClient _client;
        private readonly string _service;

        private Stack(ChildProcess broker, ChildProcess worker, Courier.Client.CourierClient client, string service, string metricsUrl, string workerMetricsUrl)
        {
            (_broker, _worker, _client, _service, MetricsUrl, WorkerMetricsUrl) = (broker, worker, client, service, metricsUrl, workerMetricsUrl);
        }

        public string MetricsUrl { get; }

        public string WorkerMetricsUrl { get; }

        public static async Task<Stack> StartAsync(string service)
        {
            var (broker, endpoint) = await ChildProcess.StartBrokerAsync("--bind", "tcp://127.0.0.1:*", "--metrics-port", "*", "--metrics-host", "127.0.0.1");
            var worker = ChildProcess.Start("worker", "--connect", endpoint, "--service", service, "--metrics-port", "*", "--metrics-host", "127.0.0.1");
            var client = TestServer.Client(endpoint);
            var stack = new Stack(broker, worker, client, service, await MetricsUrlAsync(broker), await MetricsUrlAsync(worker));
            await TestBroker.WaitForWorkersAsync(client, service, 1);
            return stack;
        }

        public async Task LoadAsync(int requests)
        {
            for (var i = 0; i < requests; i++)
            {
                await _client.RequestAsync(_service, "load");
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _client.DisposeAsync();
            await _worker.DisposeAsync();
            await _broker.DisposeAsync();
        }

        private static async Task<string> MetricsUrlAsync(ChildProcess process)
        {
            await process.WaitForOutputAsync("metrics on http://");
            return MetricsLine().Match(process.Stdout).Groups[1].Value;
        }
    }

    [GeneratedRegex(@"metrics on (http://\S+/metrics)")]
    private static partial Regex MetricsLine();
}
