using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Courier.Extensions.Hosting.Internal;
using Courier.Json;
using Courier.Server;
using Courier.Worker;
using Microsoft.Extensions.DependencyInjection;

namespace Courier.Extensions.Hosting;

/// <summary>
/// Configures a <see cref="CourierWorker"/> registered by <c>AddCourierServer</c> and maps its services. Options come
/// from the configuration section <see cref="SectionPath"/>, then each configure delegate in order; they are validated
/// when the host starts. The server binds when the host starts and drains gracefully when it stops, for at most its
/// <see cref="CourierWorkerOptions.DrainTimeout"/> and never past the host's shutdown timeout.
/// </summary>
public sealed class CourierWorkerBuilder
{
    private readonly OptionsRegistration<CourierWorkerOptions> _options;

    internal CourierWorkerBuilder(IServiceCollection services, OptionsRegistration<CourierWorkerOptions> options)
    {
        Services = services;
        _options = options;
        Handlers = new HandlerMap(services);
    }

    /// <summary>The service collection the worker is registered in.</summary>
    public IServiceCollection Services { get; }

    /// <summary>The worker's name: empty for the default worker (resolved as <see cref="CourierWorker"/>), else its service key.</summary>
    public string Name => _options.Name;

    /// <summary>The configuration section bound first: <c>Courier:Worker</c>, or <c>Courier:Workers:NAME</c> for a named worker.</summary>
    public string SectionPath => _options.SectionPath;

    internal HandlerMap Handlers { get; }

    // RS0026: each Map overload ends with the same optional concurrency, idempotent and prefetch; they are new together.
#pragma warning disable RS0026

    /// <summary>Binds the options from <paramref name="sectionPath"/> instead of <see cref="SectionPath"/>.</summary>
    public CourierWorkerBuilder BindConfiguration(string sectionPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(sectionPath);
        _options.SectionPath = sectionPath;
        return this;
    }

    /// <summary>Changes the options: <c>options =&gt; options with { BrokerEndpoint = "tcp://broker:5555" }</c>.</summary>
    public CourierWorkerBuilder Configure(Func<CourierWorkerOptions, CourierWorkerOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        _options.Configure((_, options) => configure(options));
        return this;
    }

    /// <summary>Changes the options with services at hand.</summary>
    public CourierWorkerBuilder Configure(Func<IServiceProvider, CourierWorkerOptions, CourierWorkerOptions> configure)
    {
        _options.Configure(configure);
        return this;
    }

    /// <summary>
    /// Serves <paramref name="handler"/> as <paramref name="service"/>, up to <paramref name="concurrency"/> requests at
    /// once (default <see cref="CourierWorkerOptions.Concurrency"/>) and <paramref name="prefetch"/> more waiting (default
    /// <see cref="CourierWorkerOptions.Prefetch"/>); <paramref name="idempotent"/> declares the service safe to run again
    /// (as <see cref="CourierWorker.Map"/>). The same holds for every Map below.
    /// </summary>
    public CourierWorkerBuilder Map(string service, CourierHandler handler, int? concurrency = null, bool idempotent = false, int? prefetch = null)
    {
        ArgumentNullException.ThrowIfNull(handler);
        Handlers.Add(service, _ => handler, HandlerMap.Mapping.Of(concurrency, idempotent, prefetch));
        return this;
    }

    /// <summary>Serves the handler that <paramref name="create"/> makes from the host's services, once, when the worker is built.</summary>
    public CourierWorkerBuilder Map(string service, Func<IServiceProvider, CourierHandler> create, int? concurrency = null, bool idempotent = false, int? prefetch = null)
    {
        Handlers.Add(service, create, HandlerMap.Mapping.Of(concurrency, idempotent, prefetch));
        return this;
    }

    /// <summary>Serves <typeparamref name="THandler"/> as <paramref name="service"/>: resolved from a new scope for each request (registered scoped unless already registered).</summary>
    public CourierWorkerBuilder MapHandler<THandler>(string service, int? concurrency = null, bool idempotent = false, int? prefetch = null)
        where THandler : class, ICourierHandler
    {
        Handlers.AddClass<THandler>(service, HandlerMap.Mapping.Of(concurrency, idempotent, prefetch));
        return this;
    }

    /// <summary>Serves the typed <typeparamref name="THandler"/> as <paramref name="service"/>, one per request in its own scope, with source-generated JSON metadata.</summary>
    public CourierWorkerBuilder MapHandler<THandler, TRequest, TReply>(string service, JsonTypeInfo<TRequest> requestType, JsonTypeInfo<TReply> replyType, int? concurrency = null, bool idempotent = false, int? prefetch = null)
        where THandler : class, ICourierHandler<TRequest, TReply>
    {
        Handlers.AddTyped<THandler, TRequest, TReply>(service, requestType, replyType, HandlerMap.Mapping.Of(concurrency, idempotent, prefetch));
        return this;
    }

    /// <summary>Serves the typed <typeparamref name="THandler"/> as <paramref name="service"/>, one per request in its own scope, with the JSON metadata <paramref name="context"/> generated.</summary>
    /// <exception cref="ArgumentException"><paramref name="context"/> has no metadata for <typeparamref name="TRequest"/> or <typeparamref name="TReply"/>.</exception>
    public CourierWorkerBuilder MapHandler<THandler, TRequest, TReply>(string service, JsonSerializerContext context, int? concurrency = null, bool idempotent = false, int? prefetch = null)
        where THandler : class, ICourierHandler<TRequest, TReply>
    {
        Handlers.AddTyped<THandler, TRequest, TReply>(service, context, HandlerMap.Mapping.Of(concurrency, idempotent, prefetch));
        return this;
    }

    /// <summary>Serves a typed function as <paramref name="service"/> (see <see cref="CourierJson"/>).</summary>
    public CourierWorkerBuilder Map<TRequest, TReply>(string service, Json.CourierHandler<TRequest, TReply> handler, JsonSerializerContext context, int? concurrency = null, bool idempotent = false, int? prefetch = null)
    {
        var mapped = CourierJson.Handler(handler, context);
        Handlers.Add(service, _ => mapped, HandlerMap.Mapping.Of(concurrency, idempotent, prefetch));
        return this;
    }
#pragma warning restore RS0026
}
