using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Courier.Extensions.Hosting.Internal;
using Courier.Json;
using Courier.Server;
using Microsoft.Extensions.DependencyInjection;

namespace Courier.Extensions.Hosting;

/// <summary>
/// Configures a <see cref="CourierServer"/> registered by <c>AddCourierServer</c> and maps its services. Options come
/// from the configuration section <see cref="SectionPath"/>, then each configure delegate in order; they are validated
/// when the host starts. The server binds when the host starts and drains gracefully when it stops, for at most its
/// <see cref="CourierServerOptions.DrainTimeout"/> and never past the host's shutdown timeout.
/// </summary>
public sealed class CourierServerBuilder
{
    private readonly OptionsRegistration<CourierServerOptions> _options;

    internal CourierServerBuilder(IServiceCollection services, OptionsRegistration<CourierServerOptions> options)
    {
        Services = services;
        _options = options;
        Handlers = new HandlerMap(services);
    }

    /// <summary>The service collection the server is registered in.</summary>
    public IServiceCollection Services { get; }

    /// <summary>The server's name: empty for the default server (resolved as <see cref="CourierServer"/>), else its service key.</summary>
    public string Name => _options.Name;

    /// <summary>The configuration section bound first: <c>Courier:Server</c>, or <c>Courier:Servers:NAME</c> for a named server.</summary>
    public string SectionPath => _options.SectionPath;

    internal HandlerMap Handlers { get; }

    /// <summary>Binds the options from <paramref name="sectionPath"/> instead of <see cref="SectionPath"/>.</summary>
    public CourierServerBuilder BindConfiguration(string sectionPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(sectionPath);
        _options.SectionPath = sectionPath;
        return this;
    }

    /// <summary>Changes the options: <c>options =&gt; options with { Endpoint = "tcp://*:5555" }</c>.</summary>
    public CourierServerBuilder Configure(Func<CourierServerOptions, CourierServerOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        _options.Configure((_, options) => configure(options));
        return this;
    }

    /// <summary>Changes the options with services at hand.</summary>
    public CourierServerBuilder Configure(Func<IServiceProvider, CourierServerOptions, CourierServerOptions> configure)
    {
        _options.Configure(configure);
        return this;
    }

    // RS0026: each Map overload ends with the same optional idempotent; they are new together.
#pragma warning disable RS0026

    /// <summary>
    /// Hosts <paramref name="handler"/> as <paramref name="service"/>; <paramref name="idempotent"/> declares the service
    /// safe to run again (as <see cref="CourierServer.Map(string, CourierHandler, bool)"/>). The same holds for every Map below.
    /// </summary>
    public CourierServerBuilder Map(string service, CourierHandler handler, bool idempotent = false)
    {
        ArgumentNullException.ThrowIfNull(handler);
        Handlers.Add(service, _ => handler, new(Idempotent: idempotent));
        return this;
    }

    /// <summary>Hosts the handler that <paramref name="create"/> makes from the host's services, once, when the server is built.</summary>
    public CourierServerBuilder Map(string service, Func<IServiceProvider, CourierHandler> create, bool idempotent = false)
    {
        Handlers.Add(service, create, new(Idempotent: idempotent));
        return this;
    }

    /// <summary>Hosts <typeparamref name="THandler"/> as <paramref name="service"/>: resolved from a new scope for each request (registered scoped unless already registered).</summary>
    public CourierServerBuilder MapHandler<THandler>(string service, bool idempotent = false)
        where THandler : class, ICourierHandler
    {
        Handlers.AddClass<THandler>(service, new(Idempotent: idempotent));
        return this;
    }

    /// <summary>Hosts the typed <typeparamref name="THandler"/> as <paramref name="service"/>, one per request in its own scope, with source-generated JSON metadata.</summary>
    public CourierServerBuilder MapHandler<THandler, TRequest, TReply>(string service, JsonTypeInfo<TRequest> requestType, JsonTypeInfo<TReply> replyType, bool idempotent = false)
        where THandler : class, ICourierHandler<TRequest, TReply>
    {
        Handlers.AddTyped<THandler, TRequest, TReply>(service, requestType, replyType, new(Idempotent: idempotent));
        return this;
    }

    /// <summary>Hosts the typed <typeparamref name="THandler"/> as <paramref name="service"/>, one per request in its own scope, with the JSON metadata <paramref name="context"/> generated.</summary>
    /// <exception cref="ArgumentException"><paramref name="context"/> has no metadata for <typeparamref name="TRequest"/> or <typeparamref name="TReply"/>.</exception>
    public CourierServerBuilder MapHandler<THandler, TRequest, TReply>(string service, JsonSerializerContext context, bool idempotent = false)
        where THandler : class, ICourierHandler<TRequest, TReply>
    {
        Handlers.AddTyped<THandler, TRequest, TReply>(service, context, new(Idempotent: idempotent));
        return this;
    }

    /// <summary>Hosts a typed function as <paramref name="service"/> (see <see cref="CourierJson"/>).</summary>
    public CourierServerBuilder Map<TRequest, TReply>(string service, Json.CourierHandler<TRequest, TReply> handler, JsonSerializerContext context, bool idempotent = false)
    {
        var mapped = CourierJson.Handler(handler, context);
        Handlers.Add(service, _ => mapped, new(Idempotent: idempotent));
        return this;
    }
#pragma warning restore RS0026
}
