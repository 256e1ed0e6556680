global using Tensor = Viper.Runtime.Tensor;
