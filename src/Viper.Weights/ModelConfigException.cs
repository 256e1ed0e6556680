namespace Viper.Weights;

/// <summary>A model's config.json is missing, unreadable or describes a model the engine cannot build; the message says which field.</summary>
public sealed class ModelConfigException(string message, Exception? inner = null) : Exception(message, inner);
