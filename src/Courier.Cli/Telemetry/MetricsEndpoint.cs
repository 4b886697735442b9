using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Metrics;

namespace Courier.Cli.Telemetry;

/// <summary>
/// The Prometheus scrape endpoint, <c>GET /metrics</c>, on Kestrel with limits a hostile peer meets: at most
/// <see cref="MaxConnections"/> connections (past it one is accepted and closed at once), a connection that sends
/// nothing closed after <see cref="IdleTimeout"/>, the request's headers within <see cref="HeadersTimeout"/> and
/// <see cref="MaxHeaderBytes"/> however slowly they come, <see cref="MaxConnectionsPerAddress"/> from one address, HTTP/1.1 only. Each answer is made whole in memory before a
/// byte of it is written, so a scraper that does not read holds its own connection only, not the exporter's collection
/// (which every other scrape waits for). A host of its own, with no configuration source (no appsettings.json from the
/// working directory, no ASPNETCORE_ variables), no log provider and no hold on the process's signals.
/// OpenTelemetry's own listener (HttpListener) had none of these: a connection that sent a byte was kept for good, and
/// headers trickled in line by line grew without bound.
/// </summary>
internal sealed class MetricsEndpoint : IAsyncDisposable
{
    /// <summary>Scrapers are one or two Prometheus servers, each with a connection; the rest is headroom.</summary>
    public const int MaxConnections = 64;

    /// <summary>
    /// A scraper keeps one connection alive; more from one address (an IPv6 /64) are closed at once, so that no one
    /// peer can hold the endpoint's every connection and shut the scrapers out.
    /// </summary>
    public const int MaxConnectionsPerAddress = 8;

    /// <summary>A scrape request is a few hundred bytes of headers.</summary>
    public const int MaxHeaderBytes = 8 * 1024;

    /// <summary>A scraper sends its headers at once; a peer still sending them after this is closed.</summary>
    public static readonly TimeSpan HeadersTimeout = TimeSpan.FromSeconds(10);

    /// <summary>A connection that sends nothing (a new one, or one kept alive between scrapes) is closed after this.</summary>
    public static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(10);

    /// <summary>How long a stop waits for answers still being written.</summary>
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(2);

    private readonly WebApplication _app;

    private MetricsEndpoint(WebApplication app, string url)
    {
        _app = app;
        Url = url;
    }

    /// <summary><c>http://HOST:PORT/metrics</c>, the port the kernel chose when asked for port 0.</summary>
    public string Url { get; }

    /// <summary>
    /// Serves <paramref name="meters"/> (built with <c>AddPrometheusExporter</c>) on <paramref name="host"/>:
    /// 0.0.0.0 (or * or +) for every interface, localhost, an address, or a name resolved once here; port 0 for any free port.
    /// </summary>
    public static async Task<MetricsEndpoint> StartAsync(MeterProvider meters, string host, int port, CancellationToken cancellationToken = default)
    {
        var any = host is "0.0.0.0" or "*" or "+";
        var address = any ? null : await AddressOfAsync(host, cancellationToken).ConfigureAwait(false);
        // Empty: Kestrel alone, no configuration read from files or the environment (a Kestrel:Endpoints section in the
        // working directory's appsettings.json would add listeners), no log provider (Kestrel logs each connection
        // refused past the limit: not into the process's log, which an attacker would fill).
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { Args = [] });
        builder.WebHost.UseKestrelCore();
        builder.Services.AddSingleton<IHostLifetime, UnboundLifetime>();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxConcurrentConnections = MaxConnections;
            kestrel.Limits.MaxConcurrentUpgradedConnections = 0;
            kestrel.Limits.MaxRequestHeadersTotalSize = MaxHeaderBytes;
            kestrel.Limits.MaxRequestLineSize = MaxHeaderBytes;
            kestrel.Limits.MaxRequestHeaderCount = 32;
            kestrel.Limits.MaxRequestBodySize = 0;
            // What Kestrel reads ahead of the request it answers (requests pipelined by a peer that then stops reading).
            kestrel.Limits.MaxRequestBufferSize = 16 * 1024;
            kestrel.Limits.RequestHeadersTimeout = HeadersTimeout;
            kestrel.Limits.KeepAliveTimeout = IdleTimeout;
            kestrel.Limits.MinResponseDataRate = new MinDataRate(bytesPerSecond: 1024, gracePeriod: TimeSpan.FromSeconds(5));
            var share = new AddressShare(MaxConnectionsPerAddress);
            void Http1(ListenOptions listen)
            {
                listen.Protocols = HttpProtocols.Http1;
                listen.Use(share.Limit);
            }

            if (address is null)
            {
                kestrel.ListenAnyIP(port, Http1);
            }
            else
            {
                kestrel.Listen(address, port, Http1);
            }
        });
        builder.Services.AddSingleton(meters);
        var app = builder.Build();
        app.Use(Buffered);
        app.UseOpenTelemetryPrometheusScrapingEndpoint(meters, predicate: null, path: "/metrics", configureBranchedPipeline: null, optionsName: null);
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        var bound = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        var shown = any ? "0.0.0.0" : host.Contains(':', StringComparison.Ordinal) && !host.StartsWith('[') ? $"[{host}]" : host;
        return new MetricsEndpoint(app, $"http://{shown}:{new Uri(bound).Port}/metrics");
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            using var stop = new CancellationTokenSource(StopTimeout);
            await _app.StopAsync(stop.Token).ConfigureAwait(false);
        }
        finally
        {
            await _app.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The exporter writes its answer while it holds the collection every scrape waits for: into memory here, and then
    /// to the connection, so that a peer that reads slowly or not at all delays no other scrape.
    /// </summary>
    private static async Task Buffered(HttpContext context, RequestDelegate next)
    {
        var network = context.Response.Body;
        using var answer = new MemoryStream();
        context.Response.Body = answer;
        try
        {
            await next(context).ConfigureAwait(false);
        }
        finally
        {
            context.Response.Body = network;
        }

        context.Response.ContentLength = answer.Length;
        answer.Position = 0;
        await answer.CopyToAsync(network, context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>The endpoint's host neither stops on nor holds the process's signals: the command's own shutdown does.</summary>
    private sealed class UnboundLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    private static async Task<IPAddress> AddressOfAsync(string host, CancellationToken cancellationToken)
    {
        if (IPAddress.TryParse(host.Trim('[', ']'), out var address))
        {
            return address;
        }

        var addresses = await Dns.GetHostAddressesAsync(host, cancellationToken).ConfigureAwait(false);
        return addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.FirstOrDefault()
            ?? throw new InvalidOperationException($"{host} has no address");
    }
}
